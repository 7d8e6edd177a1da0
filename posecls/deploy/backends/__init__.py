"""Inference backends for exported models: ONNX Runtime, OpenVINO and TensorRT."""
import os.path as osp
from typing import Any, Dict, Optional, Sequence, Tuple

from .base import INPUT_NAME, OUTPUT_NAME, Backend
from .onnxruntime_backend import CLASSES_METADATA_KEY, OnnxRuntimeBackend

ONNX_SUFFIXES = ('.onnx', )
OPENVINO_SUFFIXES = ('.xml', )
TRT_SUFFIXES = ('.engine', '.plan', '.trt')
MODEL_SUFFIXES = ONNX_SUFFIXES + OPENVINO_SUFFIXES + TRT_SUFFIXES
#: runtimes of ``init_backend(backend=...)`` and the model files each opens
BACKENDS = {'onnxruntime': ONNX_SUFFIXES, 'openvino': ONNX_SUFFIXES + OPENVINO_SUFFIXES, 'tensorrt': TRT_SUFFIXES}
#: ``init_backend(precision=...)`` values (None: what the model file holds)
PRECISIONS = ('f32', 'bf16', 'int8')


def is_deployed_model(path: str) -> bool:
    """True for a file :func:`init_backend` runs (``.onnx``, ``.xml``, ``.engine``, ``.plan``, ``.trt``)."""
    return isinstance(path, str) and path.lower().endswith(MODEL_SUFFIXES)


def resolve_backend(model_file: str, backend: Optional[str] = None, precision: Optional[str] = None
                    ) -> Tuple[str, Optional[str]]:
    """The runtime and precision that :func:`init_backend` uses, checked before any model is opened.

    Args:
        model_file: Exported model.
        backend: ``'onnxruntime'``, ``'openvino'``, ``'tensorrt'``, or None: by suffix (``.onnx`` ->
            onnxruntime, ``.xml`` -> openvino, ``.engine``/``.plan``/``.trt`` -> tensorrt).
        precision: ``'f32'``, ``'bf16'``, ``'int8'`` or None (as the model file holds it).

    Returns:
        ``(backend, precision)``.

    Raises:
        ValueError: unknown backend / precision / suffix, a backend that does not open this file type,
            or a precision the backend does not offer (onnxruntime: f32 and int8 of a quantized ONNX;
            tensorrt: fixed when the engine is built).
    """
    low = str(model_file).lower()
    if backend is None:
        backend = next((b for b, suffixes in (('onnxruntime', ONNX_SUFFIXES), ('openvino', OPENVINO_SUFFIXES),
                                              ('tensorrt', TRT_SUFFIXES)) if low.endswith(suffixes)), None)
        if backend is None:
            raise ValueError(f'{model_file}: unknown model type; expected one of {MODEL_SUFFIXES}')
    if backend not in BACKENDS:
        raise ValueError(f'backend must be one of {tuple(BACKENDS)}, got {backend!r}')
    if not low.endswith(BACKENDS[backend]):
        raise ValueError(f'{model_file}: backend {backend} opens {BACKENDS[backend]} files, not this one')
    if precision is not None and precision not in PRECISIONS:
        raise ValueError(f'precision must be one of {PRECISIONS}, got {precision!r}')
    if backend == 'onnxruntime' and precision == 'bf16':
        raise ValueError(f"{model_file}: precision bf16 is not offered by onnxruntime's CPU runtime; use "
                         "backend='openvino' (or precision f32)")
    if backend == 'tensorrt' and precision is not None:
        raise ValueError(f'{model_file}: a TensorRT engine\'s precision is fixed when it is built (gen_trt_engine '
                         f'--fp32 / fp16); give no precision, got {precision!r}')
    return backend, precision


def backend_options(model_file: str, backend: Optional[str] = None, precision: Optional[str] = None,
                    where: str = '--backend/--precision') -> Dict[str, str]:
    """The ``init_backend`` options of a command line (``--backend`` / ``--precision``), checked before work.

    Args:
        model_file: The checkpoint or exported model of the command.
        backend: The requested runtime (None: by suffix).
        precision: The requested precision (None: the model's).
        where: How the options are named in messages (e.g. ``evaluate.backend/evaluate.precision``).

    Returns:
        The options that were given (empty when neither was).

    Raises:
        ValueError: options for a PyTorch checkpoint, values :func:`resolve_backend` refuses, or bf16 on a
            CPU without bf16 instructions.
    """
    given = {k: v for k, v in (('backend', backend), ('precision', precision)) if v is not None}
    if not given:
        return given
    if not is_deployed_model(model_file):
        raise ValueError(f'{where} choose the runtime of an exported model ({", ".join(MODEL_SUFFIXES)}); '
                         f'{model_file} is a checkpoint and runs in PyTorch')
    try:
        backend, precision = resolve_backend(model_file, backend, precision)
        if backend == 'openvino' and precision == 'bf16':
            from .openvino_backend import require_bf16
            require_bf16(model_file)
    except ValueError as e:
        raise ValueError(f'{where}: {e}') from None
    return given


def init_backend(model_file: str, device: str = 'cpu', classes: Optional[Sequence[str]] = None,
                 cfg: Any = None, backend: Optional[str] = None, precision: Optional[str] = None) -> Backend:
    """Open an exported model with the matching runtime.

    Args:
        model_file: ``.onnx`` (ONNX Runtime, or OpenVINO), ``.xml`` OpenVINO IR, or
            ``.engine``/``.plan``/``.trt`` (TensorRT).
        device: ``'cpu'`` or ``'cuda[:i]'``. A TensorRT engine given ``'cpu'``
            runs on ``'cuda'`` (it cannot run elsewhere); OpenVINO runs on ``'cpu'``.
        classes: Class names (default: stored in the model's metadata / engine JSON,
            else the config's label_map).
        cfg: Optional config (path or Config) whose test pipeline
            :func:`posecls.apis.inference_recognizer` applies.
        backend: ``'onnxruntime'``, ``'openvino'`` or ``'tensorrt'`` (default: by suffix, see
            :func:`resolve_backend`).
        precision: ``'f32'``, ``'bf16'`` (OpenVINO) or ``'int8'`` (a model quantized by
            ``posecls-quantize``); None: as the model file holds it.

    Returns:
        Backend: ``.infer(x (N, C, T, V, M) float32) -> (N, K) logits``,
        ``.input_shape`` (C, T, V, M), ``.dataset_meta``.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: unknown suffix, backend or precision, or a model that does not fit.
        RuntimeError: TensorRT/CUDA or openvino missing.
    """
    if not osp.isfile(model_file):
        raise FileNotFoundError(f'model file not found: {model_file}')
    backend, precision = resolve_backend(model_file, backend, precision)
    if isinstance(cfg, str):
        from mmengine.config import Config
        cfg = Config.fromfile(cfg)
    if backend == 'onnxruntime':
        runtime: Backend = OnnxRuntimeBackend(model_file, device=device, classes=classes, cfg=cfg,
                                              precision=precision)
    elif backend == 'openvino':
        from .openvino_backend import OpenVINOBackend
        runtime = OpenVINOBackend(model_file, device=device, classes=classes, cfg=cfg, precision=precision)
    else:
        from .tensorrt_backend import TensorRTBackend
        runtime = TensorRTBackend(model_file, device='cuda' if device == 'cpu' else device, classes=classes,
                                  cfg=cfg)
    if runtime.dataset_meta.get('classes') is None and cfg is not None:
        from posecls.apis.inference import classes_from_config
        runtime.dataset_meta['classes'] = classes_from_config(cfg)
    return runtime


__all__ = ['Backend', 'OnnxRuntimeBackend', 'init_backend', 'is_deployed_model', 'resolve_backend', 'backend_options',
           'INPUT_NAME', 'OUTPUT_NAME', 'CLASSES_METADATA_KEY', 'BACKENDS', 'PRECISIONS', 'MODEL_SUFFIXES',
           'ONNX_SUFFIXES', 'OPENVINO_SUFFIXES', 'TRT_SUFFIXES']
