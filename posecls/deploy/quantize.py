"""INT8 post-training quantization of an exported model with NNCF, refused below a top-1 agreement with fp32.

``quantize_model`` (``posecls-quantize`` / ``tools/deployment/quantize.py``):

1. the fp32 model (``.onnx`` or OpenVINO ``.xml``) is opened as a :class:`DeployedRecognizer` with the
   config, so calibration and validation go through the config's test pipeline and data preprocessor
   (:func:`posecls.apis.inference.iter_model_inputs`, the batches of the one inference loop);
2. calibration: ``num_samples`` training sequences (a seeded random draw from the config's
   ``train_dataloader`` data, through that pipeline) feed ``nncf.quantize`` -- on the OpenVINO model for an
   ``.xml`` output (FakeQuantize nodes; runs with ``backend='openvino', precision='int8'``) or on the ONNX
   graph for an ``.onnx`` output (QDQ nodes; runs in ONNX Runtime's int8 kernels); with ``accuracy_control``
   (``--accuracy-control 0.995``), a further held-out draw of training sequences is classified by the fp32
   model, and where the INT8 model agrees with it on less than that fraction, NNCF's
   ``quantize_with_accuracy_control`` reverts the layers that cost the most agreement to float until it does;
3. the quantized model is written to a temporary folder, opened with the runtime that will run it and
   compared with the fp32 model (same runtime, f32) on the validation set (default: the config's
   ``test_dataloader`` data): top-1 agreement, and top-1 accuracy of both when labels are given;
4. only when the agreement reaches ``min_agreement`` (default 0.99) is it written to ``out_file``
   (atomically; an IR's ``.bin`` first, then its ``.xml``); otherwise :class:`AgreementError` names both
   numbers and nothing is written.
"""
import json
import logging
import os.path as osp
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from posecls.deploy.backends import OPENVINO_SUFFIXES, is_deployed_model

#: default agreement an INT8 model must reach with its fp32 model on the validation set
DEFAULT_MIN_AGREEMENT = 0.99
#: ``nncf.QuantizationPreset`` names offered
PRESETS = ('performance', 'mixed')
OUT_SUFFIXES = ('.xml', '.onnx')


class AgreementError(ValueError):
    """The INT8 model's top-1 agreement with fp32 is below the required minimum (nothing was written)."""


def _import_nncf() -> Any:
    try:
        import nncf
    except ImportError as e:
        raise RuntimeError(f'INT8 quantization needs nncf ({e}): pip install "posecls[openvino]"') from e
    nncf.set_log_level(logging.ERROR)
    return nncf


def _split_path(cfg: Any, split: str, key: str) -> Optional[str]:
    loader = cfg.get(f'{split}_dataloader') or {}
    return (loader.get('dataset') or {}).get(key)


def _dataset_file(path: Optional[str], what: str, field: str) -> str:
    if path is None:
        raise ValueError(f'{what}: no file given and the config has no {field}; pass it on the command line')
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what} not found: {path} ({field})')
    return path


def draw_sequences(data: str, num_samples: int, seed: int = 0, exclude: Sequence[int] = ()) -> List[int]:
    """``num_samples`` sequence indices of ``data`` drawn at random (seeded), none of ``exclude``, sorted.

    Args:
        data: ``.npy`` (N, C, T, V, M).
        num_samples: Sequences drawn (at most the N - len(exclude) there are).
        seed: Seed of the draw.
        exclude: Indices not to draw (the calibration draw, for the accuracy-control split).
    """
    n = int(np.load(data, mmap_mode='r').shape[0])
    pool = np.setdiff1d(np.arange(n), np.asarray(exclude, dtype=np.int64))
    if len(pool) == 0:
        return []
    pick = np.random.default_rng(seed).choice(len(pool), size=min(num_samples, len(pool)), replace=False)
    return sorted(int(pool[i]) for i in pick)


def calibration_inputs(model: Any, data: str, num_samples: int, seed: int = 0,
                       indices: Optional[Sequence[int]] = None) -> List[np.ndarray]:
    """``num_samples`` model inputs (1, C, T, V, M) drawn at random (seeded) from ``data`` through the pipeline.

    Args:
        model: The fp32 :class:`DeployedRecognizer` (its ``cfg`` gives the test pipeline).
        data: ``.npy`` (N, C, T, V, M), e.g. the training set.
        num_samples: Sequences drawn (at most N; test-time clips count as separate inputs).
        seed: Seed of the draw.
        indices: These sequences instead of a draw (:func:`draw_sequences`).
    """
    from posecls.apis.inference import iter_model_inputs

    if indices is None:
        indices = draw_sequences(data, num_samples, seed)
    if len(indices) == 0:
        raise ValueError(f'{data}: no sequences to calibrate on')
    out: List[np.ndarray] = []
    for batch in iter_model_inputs(model, data, batch_size=16, indices=list(indices)):
        x = batch['inputs'].float().cpu().numpy()
        x = x.reshape((-1, ) + x.shape[-4:])  # test-time clips are separate model inputs
        out.extend(x[i:i + 1] for i in range(len(x)))
    return out


#: ops that end the input stage (:func:`input_stage_layers`): nonlinearities, in OpenVINO's and ONNX's names
_NONLINEAR = frozenset(('Relu', 'Tanh', 'Sigmoid', 'Clamp', 'Clip', 'PRelu', 'LeakyRelu', 'Elu', 'Gelu', 'Swish',
                        'HSwish', 'HSigmoid', 'HardSwish', 'HardSigmoid', 'Mish', 'SoftPlus', 'Softplus', 'SoftMax',
                        'Softmax', 'LogSoftmax', 'MaxPool', 'Exp'))
#: layers with weights that NNCF quantizes, in OpenVINO's and ONNX's names
_WEIGHTED = frozenset(('MatMul', 'Convolution', 'GroupConvolution', 'Conv', 'Gemm', 'Einsum'))


def _graph_view(model: Any) -> Tuple[List[Any], Callable[[Any], str], Callable[[Any], str]]:
    """(nodes in graph order, node -> op type, node -> name) of an ``openvino.Model`` (friendly names) or an
    ``onnx.ModelProto`` (node names): what the graph walks below share between the two graph APIs."""
    if hasattr(model, 'get_ordered_ops'):  # openvino.Model
        return list(model.get_ordered_ops()), (lambda op: op.get_type_name()), (lambda op: op.get_friendly_name())
    return list(model.graph.node), (lambda n: n.op_type), (lambda n: n.name)


def input_stage_layers(model: Any) -> List[str]:
    """Names of the weighted layers between the model input and the first nonlinearity (the input stage).

    These layers see the raw joint coordinates (3 channels: x, y, z or x, y, score), where one 8-bit
    step of a per-tensor scale is a visible fraction of a joint's motion. With them in float an NW-UCLA
    ST-GCN's INT8 IR agreed with fp32 on 99.78 % of the test clips instead of 98.92 %, at the same speed on
    the full TAO model; not every model gains (docs/benchmarks.md, "OpenVINO f32 / bf16 / int8"). In the
    folded matmul form they are block 0's K joint aggregation MatMuls and its 1x1 convolution; in the Einsum
    form its convolution and Einsum.

    Args:
        model: An ``openvino.Model`` or an ``onnx.ModelProto``.

    Returns:
        Node names (OpenVINO friendly names or ONNX node names) in graph order, as ``nncf.IgnoredScope`` takes them.
    """
    nodes, kind, name = _graph_view(model)
    if hasattr(model, 'get_ordered_ops'):  # openvino.Model
        key = lambda op: op.get_name()  # noqa: E731  (unique; the Python wrappers of one node differ)
        consumers = {key(op): [i.get_node() for out in op.outputs() for i in out.get_target_inputs()] for op in nodes}
        starts = [c for op in nodes if op.get_type_name() == 'Parameter' for c in consumers[key(op)]]
    else:  # onnx.ModelProto
        by_input: Dict[str, List[Any]] = {}
        for node in nodes:
            for t in node.input:
                by_input.setdefault(t, []).append(node)
        key = id  # the node objects of ``nodes`` themselves
        consumers = {key(n): [c for t in n.output for c in by_input.get(t, [])] for n in nodes}
        weights = {t.name for t in model.graph.initializer}
        starts = [c for i in model.graph.input if i.name not in weights for c in by_input.get(i.name, [])]
    order = {key(n): i for i, n in enumerate(nodes)}
    seen, found, frontier = set(), {}, list(starts)
    while frontier:  # every node reachable from the input without passing a nonlinearity
        node = frontier.pop()
        if key(node) in seen or kind(node) in _NONLINEAR:
            continue
        seen.add(key(node))
        if kind(node) in _WEIGHTED:
            found[order[key(node)]] = name(node)
        frontier.extend(consumers[key(node)])
    return [found[i] for i in sorted(found)]


#: ops a quantized activation passes through on its way to a weighted layer (:func:`unquantized_layers`)
_PASS_THROUGH = frozenset(('Reshape', 'Transpose', 'Concat', 'Squeeze', 'Unsqueeze', 'Flatten'))
#: the ops that end a quantized activation: OpenVINO's FakeQuantize and ONNX's QDQ pair
_QUANTIZED = frozenset(('FakeQuantize', 'DequantizeLinear'))


def unquantized_layers(model: Any) -> List[str]:
    """Names of the weighted layers of a quantized model whose activation input is not quantized.

    A layer counts as quantized when its first input comes from a FakeQuantize (OpenVINO) or a
    DequantizeLinear (ONNX QDQ), through reshapes, transposes and concats: what NNCF inserts in front of a layer
    it runs in int8, and removes from a layer it leaves (``ignored_scope``) or reverts (accuracy control) to float.

    Args:
        model: An ``openvino.Model`` or an ``onnx.ModelProto``.

    Returns:
        Node names (OpenVINO friendly names or ONNX node names) in graph order.
    """
    nodes, kind, name = _graph_view(model)
    if hasattr(model, 'get_ordered_ops'):  # openvino.Model
        first_input = lambda op: op.input(0).get_source_output().get_node()  # noqa: E731
    else:  # onnx.ModelProto
        producer = {t: n for n in nodes for t in n.output}
        first_input = lambda n: producer.get(n.input[0]) if n.input else None  # noqa: E731
    out = []
    for node in nodes:
        if kind(node) not in _WEIGHTED:
            continue
        src = first_input(node)
        while src is not None and kind(src) in _PASS_THROUGH:
            src = first_input(src)
        if src is None or kind(src) not in _QUANTIZED:
            out.append(name(node))
    return out


def _weighted_layers(model: Any) -> set:
    """Names of the weighted layers (:data:`_WEIGHTED`) of an ``openvino.Model`` or ``onnx.ModelProto``."""
    nodes, kind, name = _graph_view(model)
    return {name(n) for n in nodes if kind(n) in _WEIGHTED}


def _logits_runner(model: Any) -> Callable[[np.ndarray], np.ndarray]:
    """``x -> logits`` of what NNCF's accuracy control validates: an OpenVINO CompiledModel or an ONNX ModelProto."""
    if hasattr(model, 'create_infer_request'):
        request = model.create_infer_request()
        return lambda x: np.asarray(request.infer({0: x})[0])
    import onnxruntime as ort
    session = ort.InferenceSession(model.SerializeToString(), providers=['CPUExecutionProvider'])
    name = session.get_inputs()[0].name
    return lambda x: session.run(None, {name: x})[0]


def _agreement_metric(model: Any, items: Any) -> Tuple[float, List[float]]:
    """NNCF ``validation_fn``: top-1 agreement of ``model`` with the fp32 labels of ``(input, label)`` items."""
    run = _logits_runner(model)
    hits = [float(int(_top1(run(x))[0]) == int(label)) for x, label in items]
    return (float(np.mean(hits)) if hits else 0.0), hits


def quantize_file(model_file: str, inputs: List[np.ndarray], out_dir: str, runtime: str = 'openvino',
                  preset: str = 'performance', classes: Optional[List[str]] = None,
                  keep_input_stage: bool = True, control: Optional[Sequence[Tuple[np.ndarray, int]]] = None,
                  control_agreement: float = DEFAULT_MIN_AGREEMENT, keep_float: Sequence[str] = ()) -> str:
    """``nncf.quantize`` of an fp32 model file on calibration inputs; writes ``out_dir/model_int8.xml|.onnx``.

    Args:
        model_file: fp32 ``.onnx`` or ``.xml`` (``runtime='onnxruntime'``: ``.onnx`` only).
        inputs: Calibration inputs, each (1, C, T, V, M) float32 (:func:`calibration_inputs`).
        out_dir: Folder of the written model (no agreement check here: :func:`quantize_model` does it).
        runtime: ``'openvino'`` (IR with FakeQuantize) or ``'onnxruntime'`` (QDQ ONNX).
        preset: One of :data:`PRESETS`.
        classes: Class names stored in the IR (an ONNX keeps the fp32 file's metadata).
        keep_input_stage: Leave the :func:`input_stage_layers` in float (the default); False quantizes them too.
        control: Accuracy control: ``(input (1, C, T, V, M), fp32 top-1)`` items not used for calibration. When
            the quantized model agrees with their fp32 labels on less than ``control_agreement``,
            ``nncf.quantize_with_accuracy_control`` reverts the layers that cost the most agreement to float
            until it reaches it (or none is left to revert).
        control_agreement: The agreement accuracy control restores, a fraction.
        keep_float: More layers to leave in float, by name (e.g. the ``reverted_layers`` of an accuracy-controlled
            quantization of a model with the same layers); a name the model lacks is an error.

    Returns:
        Path of the quantized model.

    Raises:
        AgreementError: accuracy control reverted every quantized layer (no INT8 model reaches the target).
        ValueError: ``keep_float`` names a layer the model does not have.
    """
    return _quantize_file(model_file, inputs, out_dir, runtime, preset, classes, keep_input_stage, control,
                          control_agreement, keep_float)[0]


def _quantize_file(model_file: str, inputs: List[np.ndarray], out_dir: str, runtime: str, preset: str,
                   classes: Optional[List[str]], keep_input_stage: bool,
                   control: Optional[Sequence[Tuple[np.ndarray, int]]] = None,
                   control_agreement: float = DEFAULT_MIN_AGREEMENT,
                   keep_float: Sequence[str] = ()) -> Tuple[str, List[str], List[str]]:
    """:func:`quantize_file`, returning (path, the input-stage layers it left in float, the layers accuracy
    control reverted to float)."""
    nncf = _import_nncf()
    if runtime == 'openvino':
        import openvino as ov

        from posecls.deploy.backends.openvino_backend import IR_CLASSES_KEY, read_model
        load = lambda: read_model(model_file)  # noqa: E731  (a fresh copy for each NNCF call)
        model = load()
        feed: Callable[[np.ndarray], Any] = lambda x: x  # noqa: E731
        core = ov.Core()
        runnable = lambda q: core.compile_model(q, 'CPU', {'INFERENCE_PRECISION_HINT': 'f32'})  # noqa: E731
    else:
        import onnx
        load = lambda: onnx.load(model_file)  # noqa: E731
        model = proto = load()  # nncf.quantize copies an ONNX model; ``proto`` keeps the fp32 file's metadata
        name = [i.name for i in proto.graph.input if i.name not in {t.name for t in proto.graph.initializer}][0]
        feed = lambda x: {name: x}  # noqa: E731
        runnable = lambda q: q  # noqa: E731  (_logits_runner opens an ONNX Runtime session)
    floats = input_stage_layers(model) if keep_input_stage else []
    extra = [n for n in keep_float if n not in floats]
    missing = sorted(set(extra) - _weighted_layers(model))
    if missing:
        raise ValueError(f'{model_file}: keep_float names layers this model does not have: {missing}')
    calibration = nncf.Dataset([feed(x) for x in inputs])
    options = dict(subset_size=len(inputs), preset=getattr(nncf.QuantizationPreset, preset.upper()),
                   **_ignored(nncf, floats + extra))
    q = nncf.quantize(model, calibration, **options)
    reverted: List[str] = []
    if control and _agreement_metric(runnable(q), control)[0] < control_agreement:
        controlled = nncf.quantize_with_accuracy_control(
            load(), calibration, nncf.Dataset(list(control), lambda item: feed(item[0])), _agreement_metric,
            max_drop=1.0 - float(control_agreement), drop_type=nncf.DropType.ABSOLUTE, **options)
        before, after = set(unquantized_layers(q)), unquantized_layers(controlled)
        reverted = [n for n in after if n not in before]
        if _weighted_layers(controlled) == set(after):
            raise AgreementError(f'{model_file}: accuracy control reverted every quantized layer to float: no INT8 '
                                 f'model agrees with fp32 on {control_agreement:.2%} of the {len(control)} held-out '
                                 'inputs (--accuracy-control); nothing written. Lower --accuracy-control, '
                                 'or keep the fp32 / bf16 model')
        q = controlled
    if runtime == 'openvino':
        if classes:
            q.set_rt_info(json.dumps(list(classes)), list(IR_CLASSES_KEY))
        path = osp.join(out_dir, 'model_int8.xml')
        ov.save_model(q, path, compress_to_fp16=False)
        return path, floats, reverted
    del q.metadata_props[:]
    q.metadata_props.extend(proto.metadata_props)  # class names and export facts of the fp32 file
    path = osp.join(out_dir, 'model_int8.onnx')
    onnx.save(q, path)
    return path, floats, reverted


def _ignored(nncf: Any, names: List[str]) -> Dict[str, Any]:
    """``nncf.quantize`` keyword arguments leaving the layers ``names`` in float."""
    return dict(ignored_scope=nncf.IgnoredScope(names=names)) if names else {}


def _top1(logits: np.ndarray) -> np.ndarray:
    return np.asarray(logits).argmax(axis=1)


def quantize_model(config: Union[str, Any], model_file: str, out_file: str, *, calib_data: Optional[str] = None,
                   num_samples: int = 300, val_data: Optional[str] = None, val_labels: Optional[str] = None,
                   min_agreement: float = DEFAULT_MIN_AGREEMENT, preset: str = 'performance', seed: int = 0,
                   batch_size: int = 16, force: bool = False, cfg_options: Optional[dict] = None,
                   keep_input_stage: bool = True, accuracy_control: Optional[float] = None,
                   control_samples: int = 300, control_data: Optional[str] = None,
                   echo: bool = True) -> Dict[str, Any]:
    """Quantize ``model_file`` to INT8 and write it to ``out_file`` when it agrees with fp32 (see the module doc).

    Args:
        config: The model's config (test pipeline, data paths, classes).
        model_file: fp32 ``.onnx`` (from export) or OpenVINO ``.xml``.
        out_file: ``.xml`` (OpenVINO IR, with its ``.bin``; needs an ``.onnx`` or ``.xml`` input) or ``.onnx``
            (QDQ, for ONNX Runtime; needs an ``.onnx`` input).
        calib_data: ``.npy`` to calibrate on (default: ``train_dataloader.dataset.data_path``).
        num_samples: Calibration sequences (drawn at random, seeded by ``seed``).
        val_data: ``.npy`` of the agreement check (default: ``test_dataloader.dataset.data_path``, else val's).
        val_labels: Its label ``.pkl`` (default: the same loader's ``label_path``); accuracy is reported
            when there is one.
        min_agreement: Required top-1 agreement with fp32, a fraction in [0, 1].
        preset: ``'performance'`` (symmetric) or ``'mixed'`` (asymmetric activations) NNCF preset.
        seed: Seed of the calibration draw.
        batch_size: Sequences per call of the validation.
        force: Replace an existing ``out_file``.
        cfg_options: Config overrides.
        keep_input_stage: Leave the layers between the input and the first nonlinearity in float
            (:func:`input_stage_layers`; the default); False quantizes every layer.
        accuracy_control: None (off), or an agreement fraction: ``control_samples`` further training sequences
            (drawn from ``calib_data`` after, and apart from, the calibration draw) are classified by the fp32
            model, and when the INT8 model agrees with it on less than this fraction of them,
            ``nncf.quantize_with_accuracy_control`` reverts the layers that cost the most agreement to float
            until it reaches it. The validation set plays no part (its agreement stays an independent check).
        control_samples: Sequences of the accuracy-control split.
        control_data: ``.npy`` to draw the accuracy-control split from instead of ``calib_data`` (no labels needed:
            the fp32 model labels it), e.g. unlabelled recordings of the deployment cameras; a held-out training
            split can agree on 100 % where the test set does not (docs/benchmarks.md).
        echo: Print the summary.

    Returns:
        dict(out_file, runtime, agreement, accuracy_fp32, accuracy_int8, num_val, num_calib, min_agreement,
        float_layers (the input-stage layers left in float), accuracy_control, control_data, num_control,
        control_agreement
        (the written model's agreement on the control split; None without accuracy control), reverted_layers
        (the layers accuracy control reverted to float), seconds, written=True).

    Raises:
        AgreementError: the agreement is below ``min_agreement`` (nothing written).
        FileNotFoundError: a model or data file is missing.
        ValueError: bad suffixes, values or an existing ``out_file`` without ``force``.
    """
    from posecls.apis.inference import _as_config, inference_recognizer, init_model
    from posecls.utils.atomic_io import atomic_write_bytes
    from posecls.utils.config import merge_cfg_options

    t0 = time.perf_counter()
    if isinstance(min_agreement, bool) or not isinstance(min_agreement, (int, float)) or \
            not 0.0 <= float(min_agreement) <= 1.0:
        raise ValueError(f'min_agreement must be a fraction in [0, 1] (0.99 = 99 %), got {min_agreement!r}')
    if preset not in PRESETS:
        raise ValueError(f'preset must be one of {PRESETS}, got {preset!r}')
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
        raise ValueError(f'num_samples must be a positive int, got {num_samples!r}')
    if accuracy_control is not None and (isinstance(accuracy_control, bool) or not isinstance(
            accuracy_control, (int, float)) or not 0.0 <= float(accuracy_control) <= 1.0):
        raise ValueError(f'accuracy_control must be None or an agreement fraction in [0, 1] (0.995 = 99.5 %), got '
                         f'{accuracy_control!r}')
    if isinstance(control_samples, bool) or not isinstance(control_samples, int) or control_samples < 1:
        raise ValueError(f'control_samples must be a positive int, got {control_samples!r}')
    if not osp.isfile(model_file):
        raise FileNotFoundError(f'model file not found: {model_file}')
    src_low, out_low = model_file.lower(), out_file.lower()
    if not is_deployed_model(model_file) or not src_low.endswith(('.onnx', '.xml')):
        raise ValueError(f'{model_file}: quantization needs an exported fp32 model (.onnx or OpenVINO .xml); export '
                         'a checkpoint first with posecls-export-onnx')
    if not out_low.endswith(OUT_SUFFIXES):
        raise ValueError(f'{out_file}: the output must be .xml (OpenVINO IR) or .onnx (QDQ for ONNX Runtime)')
    if out_low.endswith('.onnx') and src_low.endswith('.xml'):
        raise ValueError(f'{out_file}: an .onnx output needs an .onnx input; {model_file} is an OpenVINO IR (write '
                         'an .xml instead)')
    if osp.abspath(out_file) == osp.abspath(model_file):
        raise ValueError(f'{out_file}: the output must not replace the fp32 model it is made from')
    if osp.exists(out_file) and not force:
        raise ValueError(f'{out_file} exists; remove it, choose another path or pass force=True (--force)')
    runtime = 'openvino' if out_low.endswith(OPENVINO_SUFFIXES) else 'onnxruntime'
    cfg = merge_cfg_options(_as_config(config), cfg_options)
    calib_data = _dataset_file(calib_data or _split_path(cfg, 'train', 'data_path'), 'calibration data',
                               'train_dataloader.dataset.data_path')
    split = 'test' if cfg.get('test_dataloader') else 'val'
    if val_data is None:
        val_data, val_labels = _split_path(cfg, split, 'data_path'), val_labels or _split_path(cfg, split,
                                                                                                'label_path')
    val_data = _dataset_file(val_data, 'validation data', f'{split}_dataloader.dataset.data_path')
    if val_labels is not None and not osp.isfile(val_labels):
        raise FileNotFoundError(f'validation labels not found: {val_labels}')

    fp32 = init_model(cfg, model_file, backend=runtime, precision='f32')
    calib_indices = draw_sequences(calib_data, num_samples, seed)
    inputs = calibration_inputs(fp32, calib_data, num_samples, indices=calib_indices)
    control, control_file = None, None
    if accuracy_control is not None:
        control_file = _dataset_file(control_data or calib_data, 'accuracy-control data', '--control-data')
        same = osp.realpath(control_file) == osp.realpath(calib_data)
        control_indices = draw_sequences(control_file, control_samples, seed + 1,
                                         exclude=calib_indices if same else ())
        if not control_indices:
            raise ValueError(f'{control_file}: accuracy control needs sequences apart from the calibration draw, and '
                             f'all {len(calib_indices)} were drawn to calibrate (num_samples {num_samples}); lower '
                             '--num-samples or pass --control-data')
        control_inputs = calibration_inputs(fp32, control_file, control_samples, indices=control_indices)
        control = list(zip(control_inputs, _top1(fp32.backend.infer(np.concatenate(control_inputs))).tolist()))
    with tempfile.TemporaryDirectory(prefix='posecls_quantize_') as tmp:
        tmp_file, float_layers, reverted = _quantize_file(
            model_file, inputs, tmp, runtime, preset, fp32.dataset_meta.get('classes'), keep_input_stage, control,
            DEFAULT_MIN_AGREEMENT if accuracy_control is None else float(accuracy_control))
        int8 = init_model(cfg, tmp_file, backend=runtime, precision='int8')
        ref = inference_recognizer(fp32, val_data, batch_size=batch_size)
        got = inference_recognizer(int8, val_data, batch_size=batch_size)
        agreement = float((_top1(ref) == _top1(got)).mean())
        control_agreement = None
        if control is not None:
            control_top1 = _top1(int8.backend.infer(np.concatenate([x for x, _ in control])))
            control_agreement = float((control_top1 == np.array([label for _, label in control])).mean())
        result: Dict[str, Any] = dict(out_file=out_file, runtime=runtime, agreement=agreement,
                                      min_agreement=float(min_agreement), num_val=int(len(ref)),
                                      num_calib=len(inputs), calib_data=calib_data, val_data=val_data,
                                      preset=preset, accuracy_fp32=None, accuracy_int8=None, written=False,
                                      float_layers=float_layers, accuracy_control=accuracy_control,
                                      num_control=0 if control is None else len(control), control_data=control_file,
                                      control_agreement=control_agreement, reverted_layers=reverted)
        if val_labels is not None:
            from posecls.datasets.label_io import load_label_file
            labels = np.asarray(load_label_file(val_labels)[1])
            if len(labels) != len(ref):
                raise ValueError(f'{val_labels} has {len(labels)} labels for the {len(ref)} sequences of {val_data}')
            result['accuracy_fp32'] = float((_top1(ref) == labels).mean())
            result['accuracy_int8'] = float((_top1(got) == labels).mean())
        summary = format_summary(result)
        if agreement < min_agreement:
            raise AgreementError(f'{summary}; the INT8 model agrees with fp32 on {agreement:.2%} of {val_data}, '
                                 f'below the required {min_agreement:.2%} (--min-agreement): not written to '
                                 f'{out_file}. Calibrate on more samples (--num-samples), try --preset mixed or '
                                 '--accuracy-control, or keep the fp32 / bf16 model')
        if runtime == 'openvino':  # the .bin first: a reader opens the .xml and then needs its weights
            for ext in ('.bin', '.xml'):
                with open(osp.splitext(tmp_file)[0] + ext, 'rb') as f:
                    atomic_write_bytes(osp.splitext(out_file)[0] + ext, f.read())
        else:
            with open(tmp_file, 'rb') as f:
                atomic_write_bytes(out_file, f.read())
    result.update(written=True, seconds=time.perf_counter() - t0)
    if echo:
        print(f'{format_summary(result)}; written to {out_file}', flush=True)
    return result


def format_summary(r: Dict[str, Any]) -> str:
    """One line: runtime, agreement, accuracies, sample counts."""
    acc = ''
    if r.get('accuracy_fp32') is not None:
        acc = f", top-1 accuracy fp32 {r['accuracy_fp32']:.2%} / int8 {r['accuracy_int8']:.2%}"
    kept = len(r.get('float_layers') or [])
    kept = f", {kept} input-stage layer{'s' if kept != 1 else ''} in float" if kept else ''
    if r.get('control_agreement') is not None:
        n = len(r.get('reverted_layers') or [])
        kept += (f", accuracy control: {n} layer{'s' if n != 1 else ''} reverted to float, agreement "
                 f"{r['control_agreement']:.2%} on {r['num_control']} held-out inputs from {r['control_data']} "
                 f"(target {r['accuracy_control']:.2%})")
    return (f"INT8 ({r['runtime']}, {r['num_calib']} calibration inputs from {r['calib_data']}{kept}): top-1 "
            f"agreement with fp32 {r['agreement']:.2%} on {r['num_val']} sequences{acc}")


__all__ = ['quantize_model', 'quantize_file', 'input_stage_layers', 'unquantized_layers', 'calibration_inputs',
           'draw_sequences', 'AgreementError', 'DEFAULT_MIN_AGREEMENT', 'PRESETS', 'format_summary']
