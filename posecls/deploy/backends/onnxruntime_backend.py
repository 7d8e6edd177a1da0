"""ONNX Runtime backend for exported ``.onnx`` models."""
import json
from typing import Any, List, Optional, Sequence

import numpy as np

from .base import INPUT_NAME, OUTPUT_NAME, Backend

#: ONNX metadata key where :func:`posecls.deploy.export_onnx` stores the class names (JSON list).
CLASSES_METADATA_KEY = 'posecls.classes'


def ort_providers(device: str) -> List[str]:
    """ONNX Runtime execution providers for ``'cpu'`` or ``'cuda[:i]'``.

    Raises:
        RuntimeError: CUDA requested but onnxruntime has no CUDAExecutionProvider.
        ValueError: unknown device string.
    """
    import onnxruntime as ort

    if device == 'cpu':
        return ['CPUExecutionProvider']
    if device.startswith('cuda'):
        if 'CUDAExecutionProvider' not in ort.get_available_providers():
            raise RuntimeError(f"device '{device}': this onnxruntime has no CUDAExecutionProvider (available: "
                               f'{ort.get_available_providers()}); install onnxruntime-gpu or use device=cpu')
        return ['CUDAExecutionProvider', 'CPUExecutionProvider']
    raise ValueError(f"device must be 'cpu' or 'cuda[:i]', got {device!r}")


def is_quantized_onnx(model_file: str) -> bool:
    """True for an ONNX file with QuantizeLinear / DequantizeLinear nodes (an INT8 QDQ model)."""
    import onnx

    try:
        proto = onnx.load(model_file, load_external_data=False)
    except Exception as e:  # onnx raises DecodeError and others
        raise ValueError(f'{model_file}: not a readable ONNX file ({e})') from e
    return any(n.op_type in ('QuantizeLinear', 'DequantizeLinear') for n in proto.graph.node)


def check_onnx_precision(model_file: str, precision: str) -> None:
    """Refuse a precision ONNX Runtime would not give for this file (f32 of a float model, int8 of a QDQ one)."""
    if precision not in ('f32', 'int8'):
        raise ValueError(f'{model_file}: onnxruntime runs precision f32 (or int8 of a quantized ONNX), got '
                         f"{precision!r}; bf16 is offered by backend='openvino'")
    quantized = is_quantized_onnx(model_file)
    if precision == 'int8' and not quantized:
        raise ValueError(f'{model_file}: precision int8 needs an INT8-quantized model and this one has no '
                         'QuantizeLinear/DequantizeLinear nodes; write one with `posecls-quantize CONFIG MODEL '
                         '--out model_int8.onnx`, or use precision f32')
    if precision == 'f32' and quantized:
        raise ValueError(f'{model_file} is INT8-quantized (QDQ nodes): precision f32 would be wrong; use precision '
                         'int8 (or the float model)')


class OnnxRuntimeBackend(Backend):
    """Run an ONNX file with ONNX Runtime.

    The file must have one input (N, C, T, V, M) and one output (N, K); the
    names ``input``/``fc_pred`` of TAO's export are preferred, any single
    input/output is accepted (e.g. NGC's ``st-gcn_3dbp_nvidia.onnx``).

    Args:
        model_file: ``.onnx`` path.
        device: ``'cpu'`` or ``'cuda[:i]'``.
        classes: Class names; default: the ``posecls.classes`` metadata written at export.
        cfg: Config for ``inference_recognizer``'s pipeline.
        intra_op_num_threads: ONNX Runtime threads (0: its default).
        precision: None (as the file holds it), ``'f32'`` (a float model) or ``'int8'`` (a QDQ-quantized
            ONNX from ``posecls-quantize``, run by ONNX Runtime's int8 kernels); another value, or one that
            does not match the file, is refused.
    """

    name = 'onnxruntime'

    def __init__(self, model_file: str, device: str = 'cpu', classes: Optional[Sequence[str]] = None,
                 cfg: Any = None, intra_op_num_threads: int = 0, precision: Optional[str] = None) -> None:
        import onnxruntime as ort

        if precision is not None:
            check_onnx_precision(model_file, precision)

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = intra_op_num_threads
        providers = ort_providers(device)
        if providers[0] == 'CUDAExecutionProvider' and ':' in device:
            providers = [('CUDAExecutionProvider', {'device_id': int(device.split(':')[1])}), 'CPUExecutionProvider']
        try:
            self.session = ort.InferenceSession(model_file, sess_options=opts, providers=providers)
        except Exception as e:  # onnxruntime raises its own exception types
            raise ValueError(f'{model_file}: onnxruntime cannot load this model ({e})') from e
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ValueError(f'{model_file}: expected 1 input and 1 output, got inputs '
                             f'{[i.name for i in inputs]} and outputs {[o.name for o in outputs]}')
        shape = inputs[0].shape
        if len(shape) != 5 or not all(isinstance(d, int) for d in shape[1:]):
            raise ValueError(f'{model_file}: input {inputs[0].name!r} must be (N, C, T, V, M) with static C, T, V, M; '
                             f'got {shape}')
        self.input_name, self.output_name = inputs[0].name, outputs[0].name
        if classes is None:
            meta = self.session.get_modelmeta().custom_metadata_map
            if CLASSES_METADATA_KEY in meta:
                classes = json.loads(meta[CLASSES_METADATA_KEY])
        batch, out_shape = shape[0], outputs[0].shape
        out_size = out_shape[-1] if len(out_shape) == 2 and isinstance(out_shape[-1], int) else None
        super().__init__(model_file, shape[1:], classes=classes, cfg=cfg,
                         max_batch=batch if isinstance(batch, int) else None, output_size=out_size)
        self.device = device
        self.io_names = (self.input_name, self.output_name)
        self.standard_names = self.io_names == (INPUT_NAME, OUTPUT_NAME)

    def _run(self, x: np.ndarray) -> np.ndarray:
        return self.session.run([self.output_name], {self.input_name: x})[0]
