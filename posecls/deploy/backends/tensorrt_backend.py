"""TensorRT backend for serialized engines (``.engine`` / ``.plan``) built by :func:`build_trt_engine`."""
import json
import os.path as osp
from typing import Any, Optional, Sequence

import numpy as np

from ..gen_trt_engine import settings_path
from ..tensorrt_utils import import_tensorrt, require_cuda
from .base import Backend


class TensorRTBackend(Backend):
    """Run a TensorRT engine on a CUDA GPU (buffers are torch CUDA tensors).

    Needs TensorRT >= 8.5 and a CUDA build of torch. The engine must have one
    input (N, C, T, V, M) with a dynamic batch axis and one output (N, K).
    :meth:`infer` splits batches larger than the profile's max batch.

    Args:
        model_file: Serialized engine.
        device: ``'cuda'`` or ``'cuda:i'`` (the GPU the engine was built for).
        classes: Class names; default: ``classes`` of ``<engine>.json``.
        cfg: Config for ``inference_recognizer``'s pipeline.

    Raises:
        RuntimeError: TensorRT/CUDA unavailable, or the engine does not deserialize
            (built with another TensorRT version or GPU).
    """

    name = 'tensorrt'

    def __init__(self, model_file: str, device: str = 'cuda', classes: Optional[Sequence[str]] = None,
                 cfg: Any = None) -> None:
        if device == 'cpu':
            raise ValueError(f'{model_file}: a TensorRT engine runs on a CUDA GPU; use device="cuda" '
                             '(or the .onnx model with onnxruntime on CPU)')
        trt = import_tensorrt()
        require_cuda(f'running the TensorRT engine {model_file}')
        import torch

        self.torch_device = torch.device(device)
        self.logger = trt.Logger(trt.Logger.WARNING)
        with open(model_file, 'rb') as f:
            data = f.read()
        with torch.cuda.device(self.torch_device):
            self.runtime = trt.Runtime(self.logger)
            self.engine = self.runtime.deserialize_cuda_engine(data)
            if self.engine is None:
                raise RuntimeError(f'{model_file}: TensorRT {trt.__version__} cannot deserialize this engine (built '
                                   'with another TensorRT version or for another GPU? rebuild it with '
                                   'gen_trt_engine)')
            self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        inputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        outputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
        if len(inputs) != 1 or len(outputs) != 1:
            raise ValueError(f'{model_file}: expected 1 input and 1 output tensor, got {inputs} and {outputs}')
        self.input_name, self.output_name = inputs[0], outputs[0]
        shape = tuple(self.engine.get_tensor_shape(self.input_name))
        if len(shape) != 5 or any(d < 0 for d in shape[1:]):
            raise ValueError(f'{model_file}: input must be (N, C, T, V, M) with static C, T, V, M, got {shape}')
        _, _, max_shape = self.engine.get_tensor_profile_shape(self.input_name, 0)
        self.out_dtype = np.dtype(trt.nptype(self.engine.get_tensor_dtype(self.output_name)))
        settings = {}
        if osp.isfile(settings_path(model_file)):
            with open(settings_path(model_file)) as f:
                settings = json.load(f)
        self.settings = settings
        if classes is None:
            classes = settings.get('classes')
        out_shape = tuple(self.engine.get_tensor_shape(self.output_name))
        out_size = int(out_shape[-1]) if len(out_shape) == 2 and out_shape[-1] > 0 else None
        super().__init__(model_file, shape[1:], classes=classes, max_batch=int(max_shape[0]), cfg=cfg,
                         output_size=out_size)

    def _run(self, x: np.ndarray) -> np.ndarray:
        import torch

        with torch.cuda.device(self.torch_device):
            inp = torch.from_numpy(x).to(self.torch_device)
            if not self.context.set_input_shape(self.input_name, tuple(inp.shape)):
                raise ValueError(f'{self.model_file}: batch {inp.shape[0]} is outside the engine profile')
            out_shape = tuple(self.context.get_tensor_shape(self.output_name))
            out = torch.empty(out_shape, dtype=getattr(torch, self.out_dtype.name), device=self.torch_device)
            self.context.set_tensor_address(self.input_name, inp.data_ptr())
            self.context.set_tensor_address(self.output_name, out.data_ptr())
            stream = torch.cuda.current_stream(self.torch_device)
            if not self.context.execute_async_v3(stream.cuda_stream):
                raise RuntimeError(f'{self.model_file}: TensorRT execution failed')
            stream.synchronize()
            return out.float().cpu().numpy()
