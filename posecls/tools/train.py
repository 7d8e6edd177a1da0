"""Train a skeleton action recognizer (MMAction-style ``tools/train.py``)."""
import argparse
import warnings
from typing import List, Optional

from posecls.tools.common import DictAction, build_runner, load_config


def cpu_has_native_bf16() -> bool:
    """:func:`posecls.engine.optim_wrappers.cpu_has_native_bf16` (torch is imported here, not by ``--help``)."""
    from posecls.engine.optim_wrappers import cpu_has_native_bf16 as native_bf16
    return native_bf16()


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse ``tools/train.py`` arguments."""
    parser = argparse.ArgumentParser(description='Train a posecls model')
    parser.add_argument('config', help='config file, e.g. configs/stgcn_nvidia.py')
    parser.add_argument('--work-dir', help='folder for logs and checkpoints (default: work_dirs/<config>)')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from a checkpoint path; without a path, from <work-dir>/pc_model_latest.pth '
                        '(the default behaviour anyway unless --no-auto-resume)')
    parser.add_argument('--no-auto-resume', action='store_true',
                        help='start fresh even if <work-dir>/pc_model_latest.pth exists')
    parser.add_argument('--load-from', help='initialise from weights (posecls, TAO or original ST-GCN)')
    parser.add_argument('--amp', action='store_true',
                        help='automatic mixed precision: float16 with dynamic loss scaling on a GPU, bfloat16 '
                        'autocast on a CPU (fast on CPUs with AVX512-BF16 or AMX)')
    parser.add_argument('--auto-amp', action='store_true',
                        help='--amp only where it is faster: on a GPU, or on a CPU with native bfloat16 (AVX512-BF16 '
                        'or AMX); float32 elsewhere (the main job uses it)')
    parser.add_argument('--no-validate', action='store_true', help='skip validation during training')
    parser.add_argument('--tensorboard', action='store_true',
                        help='also log to TensorBoard (<work-dir>/<timestamp>/vis_data; tensorboard --logdir WORK_DIR)')
    parser.add_argument('--seed', type=int, help='random seed (overrides randomness.seed)')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the learning rate by (processes x batch_size) / auto_scale_lr.base_batch_size '
                        '(linear scaling rule, docs/distributed.md)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. train_cfg.max_epochs=10 '
                        'train_dataloader.dataset.data_path=/data/train_data.npy')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
                        help='job launcher (tools/dist_train.sh sets pytorch)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument('--verbose', action='store_true',
                        help='full log (the config dump, hooks, per-iteration lines) and tracebacks of errors')
    return parser.parse_args(argv)


def enable_amp(cfg) -> None:
    """Switch ``cfg.optim_wrapper`` to mixed precision for the device training will run on.

    GPU: mmengine's ``AmpOptimWrapper`` (float16, dynamic loss scaling). CPU:
    :class:`posecls.engine.BF16OptimWrapper` (bfloat16 autocast, no scaling),
    with a warning where the CPU has no native bfloat16 and it would be slower.
    """
    import torch
    wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
    if wrapper in ('AmpOptimWrapper', 'BF16OptimWrapper'):
        warnings.warn(f'--amp: the config already trains with {wrapper}; keeping it')
        return
    if wrapper != 'OptimWrapper':
        raise SystemExit(f"--amp replaces optim_wrapper.type 'OptimWrapper'; the config sets "
                         f"{cfg.optim_wrapper.type!r}: set the mixed-precision wrapper in the config instead")
    if torch.cuda.is_available():
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
        return
    cfg.optim_wrapper.type = 'BF16OptimWrapper'
    if not cpu_has_native_bf16():
        warnings.warn('--amp on a CPU without AVX512-BF16 or AMX: bfloat16 is emulated and training will be '
                      'slower than float32')


def enable_tensorboard(cfg) -> None:
    """Add mmengine's TensorboardVisBackend to the visualizer (once)."""
    visualizer = cfg.get('visualizer') or dict(type='Visualizer')
    backends = list(visualizer.get('vis_backends') or [dict(type='LocalVisBackend')])
    if not any(b.get('type') == 'TensorboardVisBackend' for b in backends):
        backends.append(dict(type='TensorboardVisBackend'))
    cfg.visualizer = dict(visualizer, vis_backends=backends)


def main(argv: Optional[List[str]] = None):
    """Run training; returns the trained model."""
    args = parse_args(argv)
    import torch

    from posecls.engine.distributed import shutdown_distributed
    if args.resume is not None and args.no_auto_resume:
        raise SystemExit('--resume and --no-auto-resume contradict each other')
    cfg = load_config(args.config, args.cfg_options, args.work_dir, args.launcher, verbose=args.verbose)
    if args.no_auto_resume:
        cfg.resume = False
    elif args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    if args.load_from is not None:
        if args.resume not in (None, 'auto'):
            raise SystemExit('--resume PATH and --load-from are mutually exclusive')
        cfg.load_from = args.load_from
        cfg.resume = False
    if args.amp or (args.auto_amp and (torch.cuda.is_available() or cpu_has_native_bf16())):
        enable_amp(cfg)
    if args.tensorboard:
        enable_tensorboard(cfg)
    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None
    if args.seed is not None:
        cfg.randomness = dict(cfg.get('randomness', {}), seed=args.seed)
    if args.auto_scale_lr:
        if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
            raise SystemExit('--auto-scale-lr needs auto_scale_lr.base_batch_size in the config (the batch size '
                             'the learning rate was tuned for), e.g. auto_scale_lr = dict(base_batch_size=16)')
        cfg.auto_scale_lr = dict(cfg.auto_scale_lr, enable=True)
    runner = build_runner(cfg)
    model = runner.train()
    shutdown_distributed()
    return model


if __name__ == '__main__':
    main()
