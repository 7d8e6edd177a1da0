"""Evaluate a checkpoint (MMAction-style ``tools/test.py``): TAO's table, metrics JSON, confusion matrix."""
import argparse
from typing import Any, Dict, List, Optional

from posecls.tools.common import DictAction, load_config


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse ``tools/test.py`` arguments."""
    parser = argparse.ArgumentParser(description='Evaluate a posecls checkpoint')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint (posecls, TAO Lightning or original ST-GCN), or an exported '
                        'model: .onnx (onnxruntime / openvino), .xml (OpenVINO IR) or .engine/.plan (TensorRT)')
    parser.add_argument('--device', default='cpu', help='device of an exported model (cpu, cuda, cuda:1)')
    parser.add_argument('--backend', help='runtime of an exported model: onnxruntime, openvino or tensorrt (default: '
                        'by suffix: .onnx onnxruntime, .xml openvino, .engine/.plan tensorrt)')
    parser.add_argument('--precision', help='precision of the runtime: f32, bf16 (openvino) or int8 (a model from '
                        'posecls-quantize); default: as the model file holds it')
    parser.add_argument('--work-dir', help='folder for logs and the evaluation report')
    parser.add_argument('--dump', help='also write predictions to this .pkl / .npz / .json file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. test_dataloader.dataset.data_path=...')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument('--verbose', action='store_true',
                        help='full log (the config dump, hooks, per-iteration lines) and tracebacks of errors')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    """Evaluate; prints the table and returns the metrics (with ``report`` paths)."""
    args = parse_args(argv)
    from posecls.apis.test import test_model  # torch and mmengine: after the arguments were parsed (fast --help)
    from posecls.deploy.backends import backend_options
    from posecls.engine.distributed import shutdown_distributed
    options = backend_options(args.checkpoint, args.backend, args.precision)
    cfg = load_config(args.config, args.cfg_options, args.work_dir, args.launcher, verbose=args.verbose)
    metrics = test_model(cfg, args.checkpoint, device=args.device, dump=args.dump, backend_options=options)
    shutdown_distributed()
    return metrics


if __name__ == '__main__':
    main()
