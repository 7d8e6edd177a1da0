"""ProtoGCNRecognizer: a SkeletonRecognizer whose training loss sees ProtoGCN's prototype reconstruction."""
import inspect
from typing import Dict, List, Optional, Union

import torch

from posecls.models.recognizers.skeleton_recognizer import SkeletonRecognizer
from posecls.registry import MODELS
from posecls.structures import PoseDataSample


@MODELS.register_module()
class ProtoGCNRecognizer(SkeletonRecognizer):
    """:class:`SkeletonRecognizer` for ProtoGCN's full training objective.

    ``mode='loss'`` runs ``backbone.forward_with_reconstruction`` and passes the reconstruction to
    ``cls_head.loss(feats, data_samples, reconstruction=...)`` (:class:`ProtoGCNHead`: cross-entropy plus the
    class-specific contrastive term). ``'tensor'`` and ``'predict'`` are SkeletonRecognizer's: backbone features
    and the classifier only, so tests, inference and every export see an ordinary recognizer.

    Args:
        backbone: Backbone config with ``forward_with_reconstruction`` (``ProtoGCN``).
        cls_head: Head config whose ``loss`` takes ``reconstruction`` (``ProtoGCNHead``).
        data_preprocessor: See :class:`SkeletonRecognizer`.
        average_clips: See :class:`SkeletonRecognizer`.
        init_cfg: mmengine init config.

    Raises:
        ValueError: the backbone has no ``forward_with_reconstruction`` or the head's loss takes no
            ``reconstruction`` (both named).
    """

    def __init__(self, backbone: dict, cls_head: dict, data_preprocessor: Optional[dict] = None,
                 average_clips: str = 'prob', init_cfg: Optional[dict] = None) -> None:
        super().__init__(backbone, cls_head, data_preprocessor=data_preprocessor, average_clips=average_clips,
                         init_cfg=init_cfg)
        if not callable(getattr(self.backbone, 'forward_with_reconstruction', None)):
            raise ValueError(f'ProtoGCNRecognizer needs a backbone with forward_with_reconstruction (ProtoGCN), got '
                             f'{type(self.backbone).__name__}; use SkeletonRecognizer for other backbones')
        if 'reconstruction' not in inspect.signature(self.cls_head.loss).parameters:
            raise ValueError(f'ProtoGCNRecognizer needs a head whose loss takes reconstruction (ProtoGCNHead), got '
                             f'{type(self.cls_head).__name__}')

    def forward(self, inputs: torch.Tensor, data_samples: Optional[List[PoseDataSample]] = None,
                mode: str = 'tensor') -> Union[torch.Tensor, Dict[str, torch.Tensor], List[PoseDataSample]]:
        """As :meth:`SkeletonRecognizer.forward`; ``'loss'`` adds the prototype term."""
        if mode != 'loss':
            return super().forward(inputs, data_samples, mode)
        if inputs.dim() == 6:  # several clips per sample: each clip is a training sample
            nc = inputs.size(1)
            inputs = inputs.flatten(0, 1)
            data_samples = [ds for ds in data_samples for _ in range(nc)]
        feats, reconstruction = self.backbone.forward_with_reconstruction(inputs)
        return self.cls_head.loss(feats, data_samples, reconstruction=reconstruction)
