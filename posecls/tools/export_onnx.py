"""Export a checkpoint to ONNX (TAO names/shapes), verify it against PyTorch with onnxruntime."""
import argparse
import json
import os.path as osp
from typing import Any, Dict, List, Optional

import numpy as np

from posecls.apis import init_recognizer
from posecls.deploy.export_onnx import MAX_VERIFY_SAMPLES, default_input_shape, export_onnx, format_export_summary
from posecls.tools.common import DictAction
from posecls.utils.atomic_io import atomic_open


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse ``tools/deployment/export_onnx.py`` arguments."""
    p = argparse.ArgumentParser(description='Export a posecls/TAO checkpoint to ONNX (input "input" (N,C,T,V,M), '
                                'output "fc_pred" (N,K) logits) and verify it with onnxruntime')
    p.add_argument('config', help='config file')
    p.add_argument('checkpoint', help='checkpoint (posecls, TAO Lightning or original ST-GCN)')
    p.add_argument('--out', required=True, help='output .onnx file')
    p.add_argument('--opset', type=int, default=12, help='ONNX opset (default 12 like TAO; >= 18 uses the dynamo '
                   'exporter)')
    p.add_argument('--batch-dynamic', action=argparse.BooleanOptionalAction, default=True,
                   help='dynamic batch axis (default on, like TAO; --no-batch-dynamic fixes batch 1)')
    p.add_argument('--no-einsum', action='store_true', help='export the graph aggregation as MatMul (no Einsum '
                   'node) for runtimes without Einsum')
    p.add_argument('--input-shape', type=int, nargs=4, metavar=('C', 'T', 'V', 'M'),
                   help='static input shape (default: C of the model, T/V/M of its graph layout, e.g. 3 300 34 1; '
                   'T is the clip_len when the config\'s test pipeline resamples with UniformSample)')
    p.add_argument('--verify-data', help='real .npy (N,C,T,V,M) for the parity check (default: the config\'s test '
                   'dataset when its shape matches, else its first samples after the test pipeline)')
    p.add_argument('--no-verify', action='store_true', help='skip the onnxruntime parity check')
    p.add_argument('--atol', type=float, default=1e-4, help='parity tolerance on logits (default 1e-4)')
    p.add_argument('--force', action='store_true', help='overwrite an existing output file')
    p.add_argument('--report', help='also write the export report as JSON here')
    p.add_argument('--device', default='cpu')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config entries')
    return p.parse_args(argv)


def _test_clip_len(model: Any) -> Optional[int]:
    """``clip_len`` of a single-clip ``UniformSample`` in the config's test pipeline (the length the model sees)."""
    cfg = getattr(model, 'cfg', None)
    try:
        pipeline = cfg.test_dataloader.dataset.pipeline
    except AttributeError:
        return None
    for t in pipeline or []:
        if isinstance(t, dict) and t.get('type') == 'UniformSample' and t.get('num_clips', 1) == 1:
            return int(t['clip_len'])
    return None


def _pipeline_samples(model: Any, shape: tuple) -> Optional[np.ndarray]:
    """The first test samples after the config's test pipeline, when they have the export shape."""
    from posecls.registry import DATASETS
    from posecls.utils import register_all_modules

    register_all_modules(init_default_scope=False)
    dataset = DATASETS.build(model.cfg.test_dataloader.dataset)
    samples = [dataset[i]['inputs'].numpy() for i in range(min(MAX_VERIFY_SAMPLES, len(dataset)))]
    arr = np.stack(samples).astype(np.float32)
    return arr if tuple(arr.shape[1:]) == tuple(shape) else None


def _default_verify_data(model: Any, shape: tuple) -> Optional[Any]:
    """Real data for the parity check: the config's test file when its (C, T, V, M) equals ``shape``, else its
    first samples after the test pipeline (recipes that resample and normalise), else None."""
    cfg = getattr(model, 'cfg', None)
    try:
        path = cfg.test_dataloader.dataset.data_path
    except AttributeError:
        return None
    if not path or not osp.isfile(path):
        return None
    arr = np.load(path, mmap_mode='r', allow_pickle=False)
    if arr.ndim == 5 and tuple(arr.shape[1:]) == tuple(shape):
        return path
    processed = _pipeline_samples(model, shape)
    if processed is None:
        print(f'note: test data {path} has shape {arr.shape[1:]} != export input {tuple(shape)}, also after the '
              'test pipeline; real-data parity skipped (pass --verify-data)')
    return processed


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    """Export and verify; prints the summary and returns the report."""
    args = parse_args(argv)
    if osp.exists(args.out) and not args.force:
        raise FileExistsError(f'{args.out} exists; pass --force to overwrite it')
    model = init_recognizer(args.config, args.checkpoint, device=args.device, cfg_options=args.cfg_options)
    if args.input_shape:
        shape = tuple(args.input_shape)
    else:  # T from the layout, or the fixed length the config's test pipeline resamples to
        shape = default_input_shape(model)
        clip_len = _test_clip_len(model)
        if clip_len is not None:
            shape = (shape[0], clip_len) + tuple(shape[2:])
    verify_data = None
    if not args.no_verify:
        verify_data = args.verify_data or _default_verify_data(model, shape)
    report = export_onnx(model, args.out, input_shape=shape, opset=args.opset, dynamic_batch=args.batch_dynamic,
                         use_einsum=not args.no_einsum, verify=not args.no_verify, verify_data=verify_data,
                         force=args.force, atol=args.atol)
    report['verify_data'] = verify_data if verify_data is None or isinstance(verify_data, str) else (
        f'{len(verify_data)} test samples after the config pipeline')
    print(format_export_summary(report), flush=True)
    if args.report:
        with atomic_open(args.report, 'w') as f:
            json.dump(report, f, indent=2)
    return report
