"""OpenVINO backend: ``.onnx`` or OpenVINO IR (``.xml`` + ``.bin``) on the CPU, in f32, bf16 or int8.

``pip install "posecls[openvino]"``. Precisions (``precision=``):

- ``'f32'``: float32 everywhere (``INFERENCE_PRECISION_HINT=f32``). OpenVINO's own CPU default on a CPU with
  AMX / AVX512-BF16 is bf16, so posecls always sets the hint explicitly.
- ``'bf16'``: bfloat16 matmuls/convolutions (``INFERENCE_PRECISION_HINT=bf16``); refused on a CPU whose
  OpenVINO ``OPTIMIZATION_CAPABILITIES`` has no ``BF16`` (OpenVINO itself would silently run f32 there).
- ``'int8'``: an INT8-quantized model (FakeQuantize / QDQ nodes, as ``posecls quantize`` writes); the
  quantized layers run in int8, the rest in f32. A model without quantization nodes is refused, and so is
  f32 / bf16 on a quantized model (its int8 layers would run int8 whatever the hint says).
"""
import json
import os.path as osp
from typing import Any, Optional, Sequence

import numpy as np

from .base import INPUT_NAME, OUTPUT_NAME, Backend
from .onnxruntime_backend import CLASSES_METADATA_KEY

#: precisions of :class:`OpenVINOBackend` and their ``INFERENCE_PRECISION_HINT``
PRECISION_HINTS = {'f32': 'f32', 'bf16': 'bf16', 'int8': 'f32'}
#: rt_info path where posecls stores the class names in an IR it writes (an ONNX file's metadata is kept by
#: OpenVINO under ``['framework', 'posecls.classes']``)
IR_CLASSES_KEY = ('posecls', 'classes')


def import_openvino() -> Any:
    """``import openvino``, or a RuntimeError saying how to install it."""
    try:
        import openvino
    except ImportError as e:
        raise RuntimeError(f'the OpenVINO backend needs the openvino package ({e}): pip install "posecls[openvino]"'
                           ) from e
    return openvino


def cpu_supports_bf16(core: Any = None) -> bool:
    """True when OpenVINO's CPU plugin runs bf16 natively here (``BF16`` in ``OPTIMIZATION_CAPABILITIES``)."""
    if core is None:
        core = import_openvino().Core()
    return 'BF16' in core.get_property('CPU', 'OPTIMIZATION_CAPABILITIES')


def require_bf16(model_file: str, core: Any = None) -> None:
    """Refuse precision bf16 on a CPU where OpenVINO has no native bf16 (it would silently run f32).

    Raises:
        ValueError: naming the CPU and OpenVINO's ``OPTIMIZATION_CAPABILITIES``.
    """
    if core is None:
        core = import_openvino().Core()
    if not cpu_supports_bf16(core):
        raise ValueError(f'{model_file}: precision bf16 needs a CPU with bf16 instructions (AVX512-BF16 / AMX); '
                         f"OpenVINO reports {core.get_property('CPU', 'OPTIMIZATION_CAPABILITIES')} for "
                         f"{core.get_property('CPU', 'FULL_DEVICE_NAME')} (it would run f32); use precision f32")


def is_quantized(ov_model: Any) -> bool:
    """True for a model holding INT8 quantization (FakeQuantize nodes, also what OpenVINO makes of ONNX QDQ)."""
    return any(op.get_type_name() == 'FakeQuantize' for op in ov_model.get_ordered_ops())


def model_classes(ov_model: Any) -> Optional[list]:
    """Class names stored in the model: posecls's IR entry, else the ONNX metadata written at export."""
    for path in (list(IR_CLASSES_KEY), ['framework', CLASSES_METADATA_KEY]):
        if ov_model.has_rt_info(path):
            return json.loads(ov_model.get_rt_info(path).astype(str))
    return None


def read_model(model_file: str) -> Any:
    """An ``openvino.Model`` from ``.onnx`` or ``.xml`` (whose ``.bin`` must lie beside it).

    Raises:
        FileNotFoundError: the file (or the IR's ``.bin``) does not exist.
        ValueError: OpenVINO cannot read it.
    """
    ov = import_openvino()
    if not osp.isfile(model_file):
        raise FileNotFoundError(f'model file not found: {model_file}')
    if model_file.lower().endswith('.xml'):
        weights = osp.splitext(model_file)[0] + '.bin'
        if not osp.isfile(weights):
            raise FileNotFoundError(f'{model_file}: its weights file {weights} is missing (an OpenVINO IR is the '
                                    '.xml and the .bin of the same name)')
    try:
        return ov.Core().read_model(model_file)
    except Exception as e:  # openvino raises its own RuntimeError subclasses
        raise ValueError(f'{model_file}: OpenVINO cannot read this model ({" ".join(str(e).split())[:300]})') from e


class OpenVINOBackend(Backend):
    """Run an ONNX file or an OpenVINO IR with OpenVINO's CPU plugin.

    One input (N, C, T, V, M) with static C, T, V, M and one output (N, K), like
    :class:`~posecls.deploy.backends.OnnxRuntimeBackend`; a dynamic batch axis is kept (OpenVINO
    compiles each new batch size once).

    Args:
        model_file: ``.onnx`` or ``.xml``.
        device: ``'cpu'`` (OpenVINO's CPU plugin; other devices are refused).
        classes: Class names; default: stored in the model (export metadata / posecls IR entry).
        cfg: Config for ``inference_recognizer``'s pipeline.
        precision: ``'f32'``, ``'bf16'`` or ``'int8'`` (see the module docstring); None: ``'int8'``
            for a quantized model, else ``'f32'``.
        num_threads: ``INFERENCE_NUM_THREADS`` (0: OpenVINO's default, all cores).

    Raises:
        ValueError: unknown precision, bf16 on a CPU without it, int8 on an unquantized model (or f32/bf16
            on a quantized one), not (N, C, T, V, M) -> (N, K), another device.
        RuntimeError: openvino is not installed.
    """

    name = 'openvino'

    def __init__(self, model_file: str, device: str = 'cpu', classes: Optional[Sequence[str]] = None,
                 cfg: Any = None, precision: Optional[str] = None, num_threads: int = 0) -> None:
        ov = import_openvino()
        if device != 'cpu':
            raise ValueError(f"{model_file}: the OpenVINO backend runs on the CPU (device='cpu'), got device "
                             f'{device!r}; use onnxruntime or TensorRT for a GPU')
        if precision is not None and precision not in PRECISION_HINTS:
            raise ValueError(f'{model_file}: precision must be one of {tuple(PRECISION_HINTS)} for the OpenVINO '
                             f'backend, got {precision!r}')
        model = read_model(model_file)
        quantized = is_quantized(model)
        precision = precision or ('int8' if quantized else 'f32')
        if precision == 'int8' and not quantized:
            raise ValueError(f'{model_file}: precision int8 needs an INT8-quantized model and this one has no '
                             'quantization nodes; write one with `posecls-quantize CONFIG MODEL --out '
                             'model_int8.xml`, or use precision f32 / bf16')
        if precision != 'int8' and quantized:
            raise ValueError(f'{model_file} is INT8-quantized: its quantized layers run in int8 whatever the '
                             f'precision, so precision {precision} would be wrong; use precision int8 (or the '
                             'float model for f32 / bf16)')
        core = ov.Core()
        if precision == 'bf16':
            require_bf16(model_file, core)
        if len(model.inputs) != 1 or len(model.outputs) != 1:
            raise ValueError(f'{model_file}: expected 1 input and 1 output, got inputs '
                             f'{[i.get_any_name() for i in model.inputs]} and outputs '
                             f'{[o.get_any_name() for o in model.outputs]}')
        shape = model.input(0).get_partial_shape()
        if shape.rank.is_dynamic or shape.rank.get_length() != 5 or not all(d.is_static for d in list(shape)[1:]):
            raise ValueError(f'{model_file}: input {model.input(0).get_any_name()!r} must be (N, C, T, V, M) with '
                             f'static C, T, V, M; got {shape}')
        dims = list(shape)
        if classes is None:
            classes = model_classes(model)
        self.input_name = model.input(0).get_any_name()
        self.output_name = model.output(0).get_any_name()
        out_size = self._output_size(model, [d.get_length() for d in dims[1:]])
        super().__init__(model_file, [d.get_length() for d in dims[1:]], classes=classes, cfg=cfg,
                         max_batch=dims[0].get_length() if dims[0].is_static else None, output_size=out_size)
        config = {'INFERENCE_PRECISION_HINT': PRECISION_HINTS[precision], 'PERFORMANCE_HINT': 'LATENCY'}
        if num_threads:
            config['INFERENCE_NUM_THREADS'] = int(num_threads)
        try:
            self.compiled = core.compile_model(model, 'CPU', config)
        except Exception as e:  # openvino's own exception types
            raise ValueError(f'{model_file}: OpenVINO cannot compile this model for the CPU '
                             f'({" ".join(str(e).split())[:300]})') from e
        self.request = self.compiled.create_infer_request()
        self.precision = precision
        self.device = device
        self.io_names = (self.input_name, self.output_name)
        self.standard_names = self.io_names == (INPUT_NAME, OUTPUT_NAME)

    @staticmethod
    def _output_size(model: Any, ctvm: Sequence[int]) -> Optional[int]:
        """K of the (N, K) output: read from the model, or from a batch-1 copy when the export left it dynamic."""
        out = model.output(0).get_partial_shape()
        if out.rank.is_static and out.rank.get_length() == 2 and out[1].is_static:
            return out[1].get_length()
        probe = model.clone()
        try:
            probe.reshape({0: [1] + list(ctvm)})
        except Exception:  # noqa: BLE001 - a model that cannot be reshaped keeps K unknown
            return None
        out = probe.output(0).get_partial_shape()
        if out.rank.is_static and out.rank.get_length() == 2 and out[1].is_static:
            return out[1].get_length()
        return None

    def _run(self, x: np.ndarray) -> np.ndarray:
        return np.array(self.request.infer({0: x})[0], dtype=np.float32)


__all__ = ['OpenVINOBackend', 'PRECISION_HINTS', 'IR_CLASSES_KEY', 'cpu_supports_bf16', 'require_bf16', 'is_quantized',
           'model_classes', 'read_model', 'import_openvino']
