"""Deployment: ONNX export with parity checks, TensorRT engines, runtime backends and Triton serving."""
from .backends import Backend, OnnxRuntimeBackend, init_backend, is_deployed_model
from .export_onnx import default_input_shape, export_onnx, format_export_summary
from .gen_trt_engine import build_trt_engine
from .verify import FP16_ATOL, FP32_ATOL, check_parity

__all__ = ['export_onnx', 'format_export_summary', 'default_input_shape', 'build_trt_engine', 'init_backend',
           'Backend', 'OnnxRuntimeBackend', 'is_deployed_model', 'check_parity', 'FP32_ATOL', 'FP16_ATOL']
