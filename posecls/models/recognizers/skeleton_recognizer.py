"""SkeletonRecognizer: backbone + head + data preprocessor, the trainable model."""
from typing import Dict, List, Optional, Union

import torch
from mmengine.model import BaseModel

from posecls.models.recognizers.predictions import check_average_clips, pack_predictions
from posecls.registry import MODELS
from posecls.structures import PoseDataSample


@MODELS.register_module()
class SkeletonRecognizer(BaseModel):
    """Skeleton action recognizer.

    Args:
        backbone: Backbone config (e.g. ``dict(type='STGCN', ...)``).
        cls_head: Head config (e.g. ``dict(type='GCNHead', num_classes=6)``).
        data_preprocessor: Preprocessor config. Defaults to ``SkeletonDataPreprocessor``.
        average_clips: How test-time clips of one sample are merged when the
            input is (N, clips, C, T, V, M): ``'prob'`` averages softmax scores,
            ``'score'`` averages logits (:mod:`posecls.models.recognizers.predictions`).
        init_cfg: mmengine init config.

    Modes of :meth:`forward`:
        ``'tensor'``: logits (N, num_classes) -- TAO's ``fc_pred``.
        ``'loss'``: dict of losses and training accuracy.
        ``'predict'``: list of :class:`PoseDataSample` with ``pred_logits``,
        ``pred_score`` (softmax) and ``pred_label``.
    """

    def __init__(self, backbone: dict, cls_head: dict, data_preprocessor: Optional[dict] = None,
                 average_clips: str = 'prob', init_cfg: Optional[dict] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='SkeletonDataPreprocessor')
        if isinstance(data_preprocessor, dict):  # build from posecls's registry, not mmengine's root
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.cls_head = MODELS.build(cls_head)
        self.average_clips = check_average_clips(average_clips)

    @property
    def num_classes(self) -> int:
        """Number of classes of the head."""
        return self.cls_head.num_classes

    def extract_feat(self, inputs: torch.Tensor) -> torch.Tensor:
        """Backbone features (N, M, C, T', V) of inputs (N, C, T, V, M)."""
        return self.backbone(inputs)

    def _logits_per_clip(self, inputs: torch.Tensor) -> torch.Tensor:
        if inputs.dim() == 6:
            n, nc = inputs.shape[:2]
            return self.cls_head(self.extract_feat(inputs.flatten(0, 1))).view(n, nc, -1)
        return self.cls_head(self.extract_feat(inputs))[:, None]

    def forward(self, inputs: torch.Tensor, data_samples: Optional[List[PoseDataSample]] = None,
                mode: str = 'tensor') -> Union[torch.Tensor, Dict[str, torch.Tensor], List[PoseDataSample]]:
        """Run the model; see the class docstring for the modes.

        Args:
            inputs: (N, C, T, V, M), or (N, clips, C, T, V, M) for multi-clip testing.
            data_samples: Per-sample records with ``gt_label`` (loss) or to fill (predict).
            mode: ``'tensor'``, ``'loss'`` or ``'predict'``.
        """
        if mode == 'loss':
            if inputs.dim() == 6:  # several clips per sample: each clip is a training sample
                nc = inputs.size(1)
                inputs = inputs.flatten(0, 1)
                data_samples = [ds for ds in data_samples for _ in range(nc)]
            return self.cls_head.loss(self.extract_feat(inputs), data_samples)
        clip_logits = self._logits_per_clip(inputs)  # (N, clips, num_classes)
        if mode == 'tensor':
            return clip_logits.mean(dim=1)
        if mode == 'predict':
            return pack_predictions(clip_logits, self.average_clips, data_samples)
        raise ValueError(f"mode must be 'tensor', 'loss' or 'predict', got {mode!r}")
