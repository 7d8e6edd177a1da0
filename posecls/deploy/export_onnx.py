"""Export a SkeletonRecognizer to ONNX in TAO's layout and verify it against PyTorch with ONNX Runtime.

TAO (docs/reference.md §6.6) exports with the TorchScript exporter at opset 12:
input ``input`` (N, C, T, V, M), output ``fc_pred`` (N, K) logits, only the
batch axis dynamic, C/T/V/M taken from the graph layout (nvidia: 3x300x34x1).
torch >= 2.9 defaults ``torch.onnx.export`` to the dynamo exporter, which
emits opset >= 18 only, so the exporter is chosen per opset explicitly:
opset < 18 -> TorchScript exporter (``dynamo=False``), opset >= 18 -> dynamo.
"""
import collections
import json
import os
import os.path as osp
import tempfile
import warnings
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import onnx
import torch
from torch import nn

from posecls.utils.atomic_io import atomic_write_bytes
from posecls.version import __version__

from .backends.base import INPUT_NAME, OUTPUT_NAME
from .backends.onnxruntime_backend import CLASSES_METADATA_KEY
from .verify import check_parity

MIN_OPSET = 12
#: first opset exported with the dynamo exporter
DYNAMO_MIN_OPSET = 18
MAX_OPSET = 23
#: most real samples compared during verification
MAX_VERIFY_SAMPLES = 8


class _LogitsModule(nn.Module):
    """``model(x, mode='tensor')`` as a single-argument module for tracing/export."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x, mode='tensor')


def default_input_shape(model: nn.Module) -> Tuple[int, int, int, int]:
    """(C, T, V, M) of the export dummy input: C of the backbone, T/V/M of its graph layout.

    Raises:
        ValueError: the model has no ``backbone.graph.layout`` (not an ST-GCN-style recognizer).
    """
    backbone = getattr(model, 'backbone', None)
    graph = getattr(backbone, 'graph', None)
    layout = getattr(graph, 'layout', None)
    if layout is None:
        raise ValueError('cannot infer the export input shape: model.backbone.graph.layout is missing; '
                         'pass input_shape=(C, T, V, M)')
    return (int(backbone.in_channels), int(layout.seq_length), int(layout.num_node), int(layout.num_person))


@contextmanager
def gcn_impl(model: nn.Module, impl: str) -> Iterator[None]:
    """Temporarily switch every graph convolution of ``model`` to ``'einsum'`` or ``'matmul'``."""
    layers = [m for m in model.modules() if hasattr(m, 'set_impl') and hasattr(m, 'impl')]
    saved = [m.impl for m in layers]
    try:
        for m in layers:
            m.set_impl(impl)
        yield
    finally:
        for m, s in zip(layers, saved):
            m.set_impl(s)


def _load_verify_data(verify_data: Union[None, str, np.ndarray], input_shape: Sequence[int]) -> Optional[np.ndarray]:
    if verify_data is None:
        return None
    where = 'verify_data'
    if isinstance(verify_data, str):
        if not osp.isfile(verify_data):
            raise FileNotFoundError(f'verify_data file not found: {verify_data}')
        where = verify_data
        verify_data = np.load(verify_data, mmap_mode='r', allow_pickle=False)
    arr = np.asarray(verify_data[:MAX_VERIFY_SAMPLES], dtype=np.float32)
    if arr.ndim != 5 or tuple(arr.shape[1:]) != tuple(input_shape):
        raise ValueError(f'{where}: real verification data must be (N, C, T, V, M) with (C, T, V, M) = '
                         f'{tuple(input_shape)} (the export input shape), got {tuple(arr.shape)}')
    return arr


def _check_opset(opset: int) -> None:
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= MAX_OPSET:
        raise ValueError(f'opset must be an int in [{MIN_OPSET}, {MAX_OPSET}] (Einsum needs opset >= 12; TAO, '
                         f'DeepStream and TensorRT use 12), got {opset!r}')


def _export_to_file(module: nn.Module, dummy: torch.Tensor, path: str, opset: int, dynamic_batch: bool) -> str:
    """Run torch.onnx.export with the exporter that produces ``opset``; returns the exporter name."""
    if opset < DYNAMO_MIN_OPSET:
        dynamic_axes = {INPUT_NAME: {0: 'batch'}, OUTPUT_NAME: {0: 'batch'}} if dynamic_batch else None
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # the TorchScript exporter's deprecation notice
            torch.onnx.export(module, (dummy, ), path, input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                              dynamic_axes=dynamic_axes, opset_version=opset, do_constant_folding=True,
                              dynamo=False)
        return 'torchscript'
    dynamic_shapes = ({0: torch.export.Dim('batch', min=1, max=65536)}, ) if dynamic_batch else None
    program = torch.onnx.export(module, (dummy, ), None, input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                                dynamic_shapes=dynamic_shapes, opset_version=opset, dynamo=True, verbose=False)
    program.save(path)
    return 'dynamo'


def _io_shapes(proto: onnx.ModelProto) -> Dict[str, List[Union[int, str]]]:
    out = {}
    for v in list(proto.graph.input) + list(proto.graph.output):
        out[v.name] = [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
    return out


def export_onnx(model: nn.Module, onnx_file: str, *, input_shape: Optional[Sequence[int]] = None, opset: int = 12,
                dynamic_batch: bool = True, use_einsum: bool = True, verify: bool = True,
                verify_data: Union[None, str, np.ndarray] = None, force: bool = False,
                atol: float = 1e-4, fold: bool = True) -> Dict[str, Any]:
    """Export a recognizer to ONNX (TAO names and shapes), check it and verify it with ONNX Runtime.

    The file is written only after ``onnx.checker`` and the parity check pass
    (atomically: an interrupted or failed export leaves no file). With ``fold`` the
    graph is the smallest exact one (:mod:`posecls.deploy.folding`): ST-GCN, ST-GCN++
    and CTR-GCN are exported from a folded copy (``A * edge_importance`` constants,
    BatchNorm folded where exact, static reshapes), every backbone's graph goes
    through the graph optimizer; the parity check compares it with ``model`` itself.

    Args:
        model: A :class:`SkeletonRecognizer` in eval mode (``init_recognizer``).
        onnx_file: Output path.
        input_shape: (C, T, V, M); default :func:`default_input_shape`
            (nvidia: (3, 300, 34, 1), like TAO).
        opset: ONNX opset, 12..23. < 18 uses the TorchScript exporter, >= 18 dynamo.
        dynamic_batch: Make axis 0 of ``input`` and ``fc_pred`` dynamic (``batch``).
        use_einsum: Keep TAO's Einsum graph aggregation; False exports the
            identical matmul form (no Einsum node) for runtimes without Einsum.
        verify: Compare ONNX Runtime with PyTorch on random data (and on
            ``verify_data``); raise when the max abs logit difference exceeds ``atol``.
        verify_data: Real sequences (N, C, T, V, M) array or ``.npy`` path (first
            8 samples used); (C, T, V, M) must equal the input shape.
        force: Overwrite an existing ``onnx_file``.
        atol: Parity tolerance on logits.
        fold: Fold the graph (default); False exports the model's own forward pass
            as the exporter writes it (for debugging).

    Returns:
        dict: ``path``, ``opset``, ``exporter``, ``input_shape``, ``io_shapes``,
        ``dynamic_batch``, ``use_einsum``, ``fold`` (``'folded'``: folded copy +
        graph optimizer; ``'graph'``: graph optimizer only, ``fold_note`` says why;
        ``'off'``), ``fold_note``, ``num_nodes``, ``num_initializers``, ``node_types`` (op histogram),
        ``max_abs_diff`` ({'random': float, 'real': float or None}),
        ``num_real_samples``, ``atol``, ``classes``, ``file_bytes``.

    Raises:
        FileExistsError: ``onnx_file`` exists and not ``force``.
        ValueError: bad opset / shapes / data, or parity above ``atol``.
    """
    _check_opset(opset)
    if osp.exists(onnx_file) and not force:
        raise FileExistsError(f'{onnx_file} exists; pass force=True (--force) to overwrite it')
    if model.training:
        raise ValueError('export_onnx needs the model in eval mode (call model.eval(); init_recognizer does)')
    shape = tuple(int(d) for d in (input_shape if input_shape is not None else default_input_shape(model)))
    if len(shape) != 4 or min(shape) < 1:
        raise ValueError(f'input_shape must be 4 positive ints (C, T, V, M), got {input_shape!r}')
    real = _load_verify_data(verify_data, shape) if verify else None
    device = next(model.parameters()).device
    impl = 'einsum' if use_einsum else 'matmul'
    fold_mode, fold_note = 'off', None
    module: nn.Module = _LogitsModule(model).eval()
    if fold:
        from .folding import fold_for_export, foldable, optimize_graph
        fold_note = foldable(model)
        if fold_note is None:
            module, fold_mode = fold_for_export(model, shape, impl), 'folded'
        else:
            fold_mode = 'graph'
    dummy = torch.randn((1, ) + shape, generator=torch.Generator().manual_seed(0)).to(device)
    out_dir = osp.dirname(osp.abspath(onnx_file))
    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix='.onnx_export_') as tmp:
        tmp_path = osp.join(tmp, 'model.onnx')
        with torch.no_grad(), gcn_impl(model, impl):
            exporter = _export_to_file(module, dummy, tmp_path, opset, dynamic_batch)
        proto = onnx.load(tmp_path)
    del module
    if fold:
        proto = optimize_graph(proto)
    classes = (getattr(model, 'dataset_meta', None) or {}).get('classes')
    meta = {'posecls.version': __version__, 'posecls.gcn_impl': impl, 'posecls.fold': fold_mode,
            'posecls.input_shape': json.dumps(list(shape))}
    if classes:
        meta[CLASSES_METADATA_KEY] = json.dumps(list(classes))
    onnx.helper.set_model_props(proto, meta)
    proto.producer_name = 'posecls'
    onnx.checker.check_model(proto, full_check=True)
    data = proto.SerializeToString()
    node_types = dict(sorted(collections.Counter(n.op_type for n in proto.graph.node).items()))
    report: Dict[str, Any] = dict(
        path=osp.abspath(onnx_file), opset=max(o.version for o in proto.opset_import if o.domain in ('', 'ai.onnx')),
        exporter=exporter, input_shape=list(shape), io_shapes=_io_shapes(proto), dynamic_batch=dynamic_batch,
        use_einsum=use_einsum, fold=fold_mode, fold_note=fold_note, num_nodes=len(proto.graph.node),
        num_initializers=len(proto.graph.initializer), node_types=node_types,
        max_abs_diff=dict(random=None, real=None), num_real_samples=0 if real is None else int(real.shape[0]),
        atol=atol, classes=list(classes) if classes else None, file_bytes=len(data))
    if verify:
        from .backends.onnxruntime_backend import OnnxRuntimeBackend
        with tempfile.TemporaryDirectory(dir=out_dir, prefix='.onnx_export_') as tmp:
            tmp_path = osp.join(tmp, 'model.onnx')
            atomic_write_bytes(tmp_path, data)
            backend = OnnxRuntimeBackend(tmp_path, device='cpu')
            parity = check_parity(model, backend, real, atol=atol, num_random=3 if dynamic_batch else 1, seed=1)
            del backend
        report['max_abs_diff'].update(parity['max_abs_diff'])
        report['top1_agreement'] = parity['top1_agreement']
        if not parity['passed']:
            worst = max(parity['max_abs_diff'].values())
            raise ValueError(f'ONNX Runtime output differs from PyTorch by {worst:.3g} > atol={atol:g} '
                             f'({report["max_abs_diff"]}); {onnx_file} was not written')
    atomic_write_bytes(onnx_file, data)
    return report


def test_clip_len(model: nn.Module) -> Optional[int]:
    """``clip_len`` of a single-clip ``UniformSample`` in the model config's test pipeline (the T the model sees)."""
    cfg = getattr(model, 'cfg', None)
    try:
        pipeline = cfg.test_dataloader.dataset.pipeline
    except AttributeError:
        return None
    for t in pipeline or []:
        if isinstance(t, dict) and t.get('type') == 'UniformSample' and t.get('num_clips', 1) == 1:
            return int(t['clip_len'])
    return None


def _test_sample_shape(model: nn.Module) -> Optional[Tuple[int, int, int, int]]:
    """(C, T, V, M) of the first test sample after the config's test pipeline (None: no readable test set)."""
    cfg = getattr(model, 'cfg', None)
    try:
        ds_cfg = cfg.test_dataloader.dataset
        path = ds_cfg.data_path
    except AttributeError:
        return None
    if not isinstance(path, str) or not osp.isfile(path):
        return None
    from posecls.registry import DATASETS
    from posecls.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    inputs = DATASETS.build(ds_cfg)[0]['inputs']
    return tuple(int(d) for d in inputs.shape[-4:])


def export_input_shape(model: nn.Module) -> Tuple[int, int, int, int]:
    """(C, T, V, M) to export: what the model sees at test time.

    The shape of the config's first test sample after the test pipeline (T of the data, or the
    ``clip_len`` the pipeline resamples to) when the test set is readable; else C of the model and
    V, M of its layout, with T = the test pipeline's ``UniformSample`` ``clip_len`` or the layout's T
    (:func:`default_input_shape`; TAO: 300).
    """
    shape = default_input_shape(model)
    sample = _test_sample_shape(model)
    if sample is not None and (sample[0], sample[2]) == (shape[0], shape[2]):
        return sample
    clip_len = test_clip_len(model)
    return shape if clip_len is None else (shape[0], clip_len) + tuple(shape[2:])


def default_verify_data(model: nn.Module, shape: Sequence[int]) -> Union[None, str, np.ndarray]:
    """Real data for the parity check, from the model config's test set.

    Returns:
        The test ``.npy`` path when its (C, T, V, M) equals ``shape``; else its first
        samples after the test pipeline when those have the shape (recipes that
        resample and normalise); else None (a note is printed).
    """
    cfg = getattr(model, 'cfg', None)
    try:
        path = cfg.test_dataloader.dataset.data_path
    except AttributeError:
        return None
    if not path or not isinstance(path, str) or not osp.isfile(path):
        return None
    arr = np.load(path, mmap_mode='r', allow_pickle=False)
    if arr.ndim == 5 and tuple(arr.shape[1:]) == tuple(shape):
        return path
    from posecls.registry import DATASETS
    from posecls.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    samples = [dataset[i]['inputs'].numpy() for i in range(min(MAX_VERIFY_SAMPLES, len(dataset)))]
    processed = np.stack(samples).astype(np.float32)
    if tuple(processed.shape[1:]) == tuple(shape):
        return processed
    print(f'note: test data {path} has shape {arr.shape[1:]} != export input {tuple(shape)}, also after the test '
          'pipeline; real-data parity skipped (pass verify_data / --verify-data)', flush=True)
    return None


def export_checkpoint(config: Any, checkpoint: str, onnx_file: str, *, device: str = 'cpu',
                      cfg_options: Optional[dict] = None, input_shape: Optional[Sequence[int]] = None,
                      verify: bool = True, verify_data: Union[None, str, np.ndarray] = None,
                      **export_kwargs: Any) -> Dict[str, Any]:
    """Export a checkpoint as configured: what ``tools/deployment/export_onnx.py`` and ``posecls export`` run.

    The input shape defaults to :func:`export_input_shape` (the graph layout's T, or the
    test pipeline's ``clip_len``) and the parity data to :func:`default_verify_data`.

    Args:
        config: Config path, Config or dict (``model`` and, for the defaults, ``test_dataloader``).
        checkpoint: Weights for the config's classes.
        onnx_file: Output path.
        device: Device of the PyTorch model during export.
        cfg_options: Config overrides.
        input_shape: (C, T, V, M) instead of the default.
        verify: Run the ONNX Runtime parity check.
        verify_data: Real sequences (array or ``.npy``) instead of the default.
        **export_kwargs: :func:`export_onnx` options (``opset``, ``dynamic_batch``, ``use_einsum``, ``force``,
            ``atol``, ``fold``).

    Returns:
        :func:`export_onnx`'s report plus ``verify_data`` (what real data was compared).
    """
    if osp.exists(onnx_file) and not export_kwargs.get('force', False):
        raise FileExistsError(f'{onnx_file} exists; pass force=True (--force) to overwrite it')
    from posecls.apis.inference import init_recognizer
    model = init_recognizer(config, checkpoint, device=device, cfg_options=cfg_options)
    shape = tuple(input_shape) if input_shape else export_input_shape(model)
    data = None
    if verify:
        data = verify_data if verify_data is not None else default_verify_data(model, shape)
    report = export_onnx(model, onnx_file, input_shape=shape, verify=verify, verify_data=data, **export_kwargs)
    report['verify_data'] = data if data is None or isinstance(data, str) else (
        f'{len(data)} test samples after the config pipeline')
    return report


_FOLD_SUMMARY = {
    'folded': 'folded (A * edge_importance constants, BatchNorm folded, static reshapes) and optimized',
    'graph': 'optimized, not folded: {note}',
    'off': 'as exported, not folded (--no-fold)',
}


def format_export_summary(report: Dict[str, Any]) -> str:
    """Human-readable summary of an :func:`export_onnx` report."""
    diffs = report['max_abs_diff']
    fmt = lambda v: 'not checked' if v is None else f'{v:.3g}'  # noqa: E731
    io = ', '.join(f'{k} {v}' for k, v in report['io_shapes'].items())
    ops = ', '.join(f'{k} {v}' for k, v in report['node_types'].items())
    return '\n'.join([
        f"ONNX model written: {report['path']} ({report['file_bytes'] / 1e6:.2f} MB)",
        f"  opset {report['opset']} ({report['exporter']} exporter), dynamic batch: {report['dynamic_batch']}, "
        f"Einsum: {'yes' if report['use_einsum'] else 'no (matmul form)'}",
        f'  tensors: {io}',
        f"  graph: {_FOLD_SUMMARY[report.get('fold', 'off')].format(note=report.get('fold_note'))}; "
        f"{report.get('num_nodes', sum(report['node_types'].values()))} nodes, "
        f"{report.get('num_initializers', '?')} initializers",
        f'  nodes: {ops}',
        f"  parity vs PyTorch (max abs logit diff, atol {report['atol']:g}): random {fmt(diffs['random'])}, "
        f"real {fmt(diffs['real'])} ({report['num_real_samples']} samples)",
        f"  classes: {report['classes']}",
    ])
