"""Build a TensorRT engine from an exported ONNX model (TensorRT Python API) and check its parity."""
import argparse
from typing import Any, Dict, List, Optional

from posecls.deploy.gen_trt_engine import DEFAULT_BATCH_PROFILE, DEFAULT_WORKSPACE_MIB, build_trt_engine, verify_engine
from posecls.deploy.verify import FP16_ATOL, FP32_ATOL


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse ``tools/deployment/gen_trt_engine.py`` arguments."""
    p = argparse.ArgumentParser(description='Build a TensorRT engine from a posecls/TAO ONNX model '
                                '(needs an NVIDIA GPU and posecls[tensorrt]) and check it against ONNX Runtime '
                                '(or the PyTorch checkpoint)')
    p.add_argument('onnx_file', help='exported .onnx model')
    p.add_argument('--out', required=True, help='output engine (.engine / .plan); settings go to <out>.json')
    prec = p.add_mutually_exclusive_group()
    prec.add_argument('--fp16', dest='fp16', action='store_true', default=True, help='fp16 kernels (default)')
    prec.add_argument('--fp32', dest='fp16', action='store_false', help='strict fp32 (TF32 disabled)')
    p.add_argument('--min-batch', type=int, default=DEFAULT_BATCH_PROFILE[0])
    p.add_argument('--opt-batch', type=int, default=DEFAULT_BATCH_PROFILE[1])
    p.add_argument('--max-batch', type=int, default=DEFAULT_BATCH_PROFILE[2])
    p.add_argument('--workspace-mib', type=int, default=DEFAULT_WORKSPACE_MIB, help='builder workspace (MiB)')
    p.add_argument('--timing-cache', help='timing cache file (read if present, written after the build)')
    p.add_argument('--force', action='store_true', help='overwrite an existing engine')
    p.add_argument('--config', help='with --checkpoint: check the engine against PyTorch instead of ONNX Runtime')
    p.add_argument('--checkpoint', help='checkpoint the ONNX was exported from (parity check against PyTorch)')
    p.add_argument('--verify-data', help='real .npy (N,C,T,V,M) for the parity check (first 16 samples)')
    p.add_argument('--no-verify', action='store_true', help='skip the parity check')
    p.add_argument('--atol', type=float, help=f'parity tolerance (default {FP16_ATOL} fp16, {FP32_ATOL} fp32)')
    p.add_argument('--verbose', action='store_true',
                   help='full log (the config dump, hooks, per-iteration lines) and tracebacks of errors')
    return p.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    """Build the engine and check parity; prints and returns the settings."""
    args = parse_args(argv)
    if (args.config is None) != (args.checkpoint is None):
        raise SystemExit('--config and --checkpoint go together (the parity check against PyTorch)')
    settings = build_trt_engine(args.onnx_file, args.out, fp16=args.fp16, min_batch=args.min_batch,
                                opt_batch=args.opt_batch, max_batch=args.max_batch,
                                workspace_mib=args.workspace_mib, timing_cache=args.timing_cache, force=args.force)
    print(f"TensorRT {settings['tensorrt_version']} engine written: {args.out} ({settings['precision']}, batch "
          f"{args.min_batch}/{args.opt_batch}/{args.max_batch}, built in {settings['build_seconds']:.1f} s on "
          f"{settings['device']})", flush=True)
    if not args.no_verify:
        reference = None
        if args.config:
            from posecls.apis import init_recognizer
            reference = init_recognizer(args.config, args.checkpoint, device='cuda')
        parity = verify_engine(args.out, reference, args.verify_data, atol=args.atol)
        settings['parity'] = parity
        print(f"parity vs {'PyTorch' if args.config else 'ONNX Runtime'}: max abs diff {parity['max_abs_diff']}, "
              f"top-1 agreement {parity['top1_agreement']} (atol {parity['atol']})", flush=True)
    return settings
