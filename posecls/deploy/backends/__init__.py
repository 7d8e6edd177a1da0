"""Inference backends for exported models: ONNX Runtime and TensorRT."""
import os.path as osp
from typing import Any, Optional, Sequence

from .base import INPUT_NAME, OUTPUT_NAME, Backend
from .onnxruntime_backend import CLASSES_METADATA_KEY, OnnxRuntimeBackend

ONNX_SUFFIXES = ('.onnx', )
TRT_SUFFIXES = ('.engine', '.plan', '.trt')


def is_deployed_model(path: str) -> bool:
    """True for a file :func:`init_backend` runs (``.onnx``, ``.engine``, ``.plan``, ``.trt``)."""
    return isinstance(path, str) and path.lower().endswith(ONNX_SUFFIXES + TRT_SUFFIXES)


def init_backend(model_file: str, device: str = 'cpu', classes: Optional[Sequence[str]] = None,
                 cfg: Any = None) -> Backend:
    """Open an exported model with the matching runtime.

    Args:
        model_file: ``.onnx`` (ONNX Runtime) or ``.engine``/``.plan``/``.trt`` (TensorRT).
        device: ``'cpu'`` or ``'cuda[:i]'``. A TensorRT engine given ``'cpu'``
            runs on ``'cuda'`` (it cannot run elsewhere).
        classes: Class names (default: stored in the model's metadata / engine JSON,
            else the config's label_map).
        cfg: Optional config (path or Config) whose test pipeline
            :func:`posecls.apis.inference_recognizer` applies.

    Returns:
        Backend: ``.infer(x (N, C, T, V, M) float32) -> (N, K) logits``,
        ``.input_shape`` (C, T, V, M), ``.dataset_meta``.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: unknown suffix or a model that does not fit.
        RuntimeError: TensorRT/CUDA missing for an engine.
    """
    if not osp.isfile(model_file):
        raise FileNotFoundError(f'model file not found: {model_file}')
    if isinstance(cfg, str):
        from mmengine.config import Config
        cfg = Config.fromfile(cfg)
    low = model_file.lower()
    if low.endswith(ONNX_SUFFIXES):
        backend: Backend = OnnxRuntimeBackend(model_file, device=device, classes=classes, cfg=cfg)
    elif low.endswith(TRT_SUFFIXES):
        from .tensorrt_backend import TensorRTBackend
        backend = TensorRTBackend(model_file, device='cuda' if device == 'cpu' else device, classes=classes, cfg=cfg)
    else:
        raise ValueError(f'{model_file}: unknown model type; expected one of {ONNX_SUFFIXES + TRT_SUFFIXES}')
    if backend.dataset_meta.get('classes') is None and cfg is not None:
        from posecls.apis.inference import classes_from_config
        backend.dataset_meta['classes'] = classes_from_config(cfg)
    return backend


__all__ = ['Backend', 'OnnxRuntimeBackend', 'init_backend', 'is_deployed_model', 'INPUT_NAME', 'OUTPUT_NAME',
           'CLASSES_METADATA_KEY']
