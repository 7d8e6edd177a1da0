"""DeployedRecognizer: an exported model (ONNX Runtime, TensorRT, ...) as a model mmengine's Runner can serve.

``tools/test.py CONFIG model.onnx`` and ``posecls evaluate`` with an engine replace
the config's ``model`` by ``dict(type='DeployedRecognizer', model_file=...)`` and
run the same ``Runner.test`` (pipeline, data preprocessor, clip averaging,
metrics, dumps and report) as for a checkpoint; ``inference_recognizer`` runs
the same ``test_step``. Only :meth:`forward` differs: the backbone and head are
the backend's ``infer``.
"""
from typing import Any, Dict, List, Optional, Sequence, Union

import torch
from mmengine.model import BaseModel

from posecls.models.recognizers.predictions import check_average_clips, pack_predictions
from posecls.registry import MODELS
from posecls.structures import PoseDataSample
from posecls.utils.checkpoint import ClassCountError


@MODELS.register_module()
class DeployedRecognizer(BaseModel):
    """Classify with a deployed model through :func:`posecls.deploy.init_backend`.

    Args:
        model_file: ``.onnx`` or a TensorRT engine; ignored when ``backend`` is given.
        backend: An already open :class:`posecls.deploy.Backend`.
        device: Device of the runtime (``'cpu'``, ``'cuda[:i]'``).
        classes: Class names (default: stored in the model file).
        num_classes: Classes the config expects (``model.cls_head.num_classes``); a model
            file with another output size is refused.
        average_clips: ``'prob'`` or ``'score'``, as :class:`SkeletonRecognizer`.
        data_preprocessor: Preprocessor config (default ``SkeletonDataPreprocessor``).
        backend_options: Extra keyword arguments of ``init_backend``.

    Raises:
        ClassCountError: the model's output size differs from ``num_classes`` (both named).
    """

    def __init__(self, model_file: Optional[str] = None, backend: Any = None, device: str = 'cpu',
                 classes: Optional[Sequence[str]] = None, num_classes: Optional[int] = None,
                 average_clips: str = 'prob', data_preprocessor: Optional[Union[dict, Any]] = None,
                 backend_options: Optional[Dict[str, Any]] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='SkeletonDataPreprocessor')
        if isinstance(data_preprocessor, dict):
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor)
        if backend is None:
            if model_file is None:
                raise ValueError('DeployedRecognizer needs model_file (an exported model) or an open backend')
            from posecls.deploy.backends import init_backend
            backend = init_backend(model_file, device=device, classes=classes, **(backend_options or {}))
        self.backend = backend
        self.average_clips = check_average_clips(average_clips)
        got = backend.num_classes
        if num_classes is not None and got is not None and got != num_classes:
            raise ClassCountError(f'{backend.model_file} predicts {got} classes but the config has {num_classes} '
                                  '(model.cls_head.num_classes / label_map); evaluate and run a model with the '
                                  'classes it was trained for')
        self.dataset_meta = dict(backend.dataset_meta)

    @property
    def num_classes(self) -> Optional[int]:
        """Classes the deployed model predicts (None when the file does not say)."""
        return self.backend.num_classes

    @property
    def input_shape(self):
        """(C, T, V, M) the deployed model accepts."""
        return self.backend.input_shape

    def clip_logits(self, inputs: torch.Tensor) -> torch.Tensor:
        """(N, clips, K) logits of inputs (N, C, T, V, M) or (N, clips, C, T, V, M), one backend call."""
        x = inputs.detach().float().cpu().numpy()
        if x.ndim == 6:
            n, nc = x.shape[:2]
            out = self.backend.infer(x.reshape((n * nc, ) + x.shape[2:])).reshape(n, nc, -1)
        else:
            out = self.backend.infer(x)[:, None]
        return torch.from_numpy(out)

    def forward(self, inputs: torch.Tensor, data_samples: Optional[List[PoseDataSample]] = None,
                mode: str = 'tensor') -> Union[torch.Tensor, List[PoseDataSample]]:
        """``'tensor'``: logits (N, K); ``'predict'``: filled data samples. A deployed model does not train."""
        if mode == 'loss':
            raise ValueError(f'{self.backend.model_file} is a deployed model: it can be evaluated and run, not '
                             'trained; train the checkpoint it was exported from')
        clip_logits = self.clip_logits(inputs)
        if mode == 'tensor':
            return clip_logits.mean(dim=1)
        if mode == 'predict':
            return pack_predictions(clip_logits, self.average_clips, data_samples)
        raise ValueError(f"mode must be 'tensor' or 'predict', got {mode!r}")


def deployed_model_config(model_cfg: Dict[str, Any], model_file: str, device: str = 'cpu',
                          **backend_options: Any) -> Dict[str, Any]:
    """The ``model`` entry that serves ``model_file`` in place of a config's recognizer.

    Keeps the recognizer's data preprocessor, ``average_clips`` and class count.

    Args:
        model_cfg: The config's ``model`` (a SkeletonRecognizer config).
        model_file: Exported model.
        device: Runtime device.
        **backend_options: Extra ``init_backend`` arguments.
    """
    head = model_cfg.get('cls_head') or {}
    return dict(type='DeployedRecognizer', model_file=model_file, device=device,
                num_classes=head.get('num_classes'), average_clips=model_cfg.get('average_clips', 'prob'),
                data_preprocessor=model_cfg.get('data_preprocessor'), backend_options=dict(backend_options) or None)


__all__ = ['DeployedRecognizer', 'ClassCountError', 'deployed_model_config']
