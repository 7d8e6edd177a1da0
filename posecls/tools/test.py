"""Evaluate a checkpoint (MMAction-style ``tools/test.py``): TAO's table, metrics JSON, confusion matrix."""
import argparse
import os.path as osp
import time
from typing import Any, Dict, List, Optional

from posecls.deploy.backends import init_backend, is_deployed_model
from posecls.deploy.evaluate import evaluate_backend
from posecls.engine.distributed import shutdown_distributed
from posecls.evaluation.report import write_evaluation_report
from posecls.tools.common import DictAction, build_runner, load_config


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse ``tools/test.py`` arguments."""
    parser = argparse.ArgumentParser(description='Evaluate a posecls checkpoint')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint (posecls, TAO Lightning or original ST-GCN), or an exported '
                        'model: .onnx (onnxruntime) or .engine/.plan (TensorRT)')
    parser.add_argument('--device', default='cpu', help='device of an exported model (cpu, cuda, cuda:1)')
    parser.add_argument('--work-dir', help='folder for logs and the evaluation report')
    parser.add_argument('--dump', help='also write predictions to this .pkl / .npz / .json file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. test_dataloader.dataset.data_path=...')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    """Evaluate; prints the table and returns the metrics (with ``report`` paths)."""
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options, args.work_dir, args.launcher)
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    if is_deployed_model(args.checkpoint):
        backend = init_backend(args.checkpoint, device=args.device, cfg=cfg)
        return evaluate_backend(backend, cfg, dump=args.dump,
                                out_dir=osp.join(cfg.work_dir, time.strftime('%Y%m%d_%H%M%S')))
    cfg.load_from = args.checkpoint
    cfg.resume = False
    evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) else [cfg.test_evaluator]
    for ev in evaluators:
        if ev.get('type') == 'PoseAccMetric':
            ev['with_confusion_matrix'] = True
    if args.dump:
        evaluators.append(dict(type='DumpPredictions', out_file=args.dump))
    cfg.test_evaluator = evaluators
    runner = build_runner(cfg)
    metrics = runner.test()
    if runner.rank == 0 and 'confusion_matrix' in metrics:
        classes = runner.test_dataloader.dataset.metainfo.get('classes')
        report = write_evaluation_report(metrics, classes, runner.log_dir)
        metrics = dict(metrics, report=report['paths'])
        print(f"Evaluation report written to {runner.log_dir}", flush=True)
    shutdown_distributed()
    return metrics


if __name__ == '__main__':
    main()
