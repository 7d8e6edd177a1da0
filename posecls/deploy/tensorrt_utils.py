"""Import TensorRT and check for CUDA with clear errors (TensorRT is the optional ``posecls[tensorrt]`` extra)."""
from typing import Any

TENSORRT_HINT = ('TensorRT engines need an NVIDIA GPU with CUDA and the TensorRT Python package: '
                 'pip install "posecls[tensorrt]" (or the tensorrt wheel matching your CUDA). '
                 'On a machine without them use the ONNX model with onnxruntime instead.')


def import_tensorrt() -> Any:
    """Return the ``tensorrt`` module.

    Raises:
        RuntimeError: TensorRT is not installed (message says how to install it).
    """
    try:
        import tensorrt as trt
    except ImportError as e:
        raise RuntimeError(f'TensorRT is not installed ({e}). {TENSORRT_HINT}') from e
    major = int(trt.__version__.split('.')[0])
    minor = int(trt.__version__.split('.')[1])
    if (major, minor) < (8, 5):
        raise RuntimeError(f'TensorRT {trt.__version__} is too old: posecls needs TensorRT >= 8.5 '
                           '(named-tensor API; Einsum import needs >= 8.2)')
    return trt


def require_cuda(what: str) -> None:
    """Raise a clear RuntimeError when PyTorch sees no CUDA device.

    Args:
        what: What needs CUDA (for the message), e.g. ``'running engine.plan'``.
    """
    import torch

    if not torch.cuda.is_available():
        raise RuntimeError(f'{what} needs a CUDA GPU, but torch.cuda.is_available() is False (no GPU, no driver, '
                           f'or a CPU-only torch build). {TENSORRT_HINT}')


def trt_major_version(trt: Any) -> int:
    """Major version of an imported tensorrt module."""
    return int(trt.__version__.split('.')[0])
