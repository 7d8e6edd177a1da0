"""Deployment: ONNX export with parity checks, TensorRT engines, runtime backends and Triton serving.

Attributes are imported on first use (:mod:`posecls.utils.lazy`): a Triton client or a tool's ``--help``
does not import torch through this package.
"""
from posecls.utils.lazy import lazy_exports

_EXPORTS = {
    'export_onnx': 'export_onnx', 'format_export_summary': 'export_onnx', 'default_input_shape': 'export_onnx',
    'build_trt_engine': 'gen_trt_engine', 'init_backend': 'backends', 'Backend': 'backends',
    'OnnxRuntimeBackend': 'backends', 'is_deployed_model': 'backends', 'check_parity': 'verify',
    'FP32_ATOL': 'verify', 'FP16_ATOL': 'verify',
}

__getattr__, __dir__, import_all = lazy_exports(__name__, _EXPORTS)
__all__ = ['export_onnx', 'format_export_summary', 'default_input_shape', 'build_trt_engine', 'init_backend',
           'Backend', 'OnnxRuntimeBackend', 'is_deployed_model', 'check_parity', 'FP32_ATOL', 'FP16_ATOL']
