"""Export a checkpoint to ONNX (TAO names/shapes), verify it against PyTorch with onnxruntime."""
import argparse
import json
from typing import Any, Dict, List, Optional

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
                   'node; folded: joints aggregated first): for runtimes without Einsum, and the fastest form on CPU '
                   'runtimes (ONNX Runtime, OpenVINO)')
    p.add_argument('--no-fold', action='store_true', help='export the model\'s forward pass as the exporter '
                   'writes it (default: the smallest exact graph: A * edge_importance as constants, BatchNorm folded '
                   'where exact, static reshapes, constant folding; for debugging)')
    p.add_argument('--input-shape', type=int, nargs=4, metavar=('C', 'T', 'V', 'M'),
                   help='static input shape (default: the shape of the config\'s test samples after the test '
                   'pipeline; without a readable test set C of the model, T/V/M of its graph layout, e.g. 3 300 34 1, '
                   'T = the UniformSample clip_len when the test pipeline resamples)')
    p.add_argument('--verify-data', help='real .npy (N,C,T,V,M) for the parity check (default: the config\'s test '
                   'dataset when its shape matches, else its first samples after the test pipeline)')
    p.add_argument('--no-verify', action='store_true', help='skip the onnxruntime parity check')
    p.add_argument('--atol', type=float, default=1e-4, help='parity tolerance on logits (default 1e-4)')
    p.add_argument('--force', action='store_true', help='overwrite an existing output file')
    p.add_argument('--report', help='also write the export report as JSON here')
    p.add_argument('--device', default='cpu')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config entries')
    p.add_argument('--verbose', action='store_true',
                   help='full log (the config dump, hooks, per-iteration lines) and tracebacks of errors')
    return p.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    """Export and verify; prints the summary and returns the report."""
    args = parse_args(argv)
    from posecls.deploy.export_onnx import export_checkpoint, format_export_summary
    report = export_checkpoint(args.config, args.checkpoint, args.out, device=args.device,
                               cfg_options=args.cfg_options, input_shape=args.input_shape,
                               verify=not args.no_verify, verify_data=args.verify_data, opset=args.opset,
                               dynamic_batch=args.batch_dynamic, use_einsum=not args.no_einsum, force=args.force,
                               atol=args.atol, fold=not args.no_fold)
    print(format_export_summary(report), flush=True)
    if args.report:
        with atomic_open(args.report, 'w') as f:
            json.dump(report, f, indent=2)
    return report
