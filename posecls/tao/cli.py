"""The ``posecls`` command: TAO-compatible tasks and ``config convert``.

    posecls <task> -e SPEC.yaml [section.key=value ...]
    posecls config convert SPEC.yaml [-o CONFIG.py] [section.key=value ...]

Tasks: train, evaluate, inference, export, gen_trt_engine, dataset_convert.
``posecls <task> --help`` lists the keys of the task with their defaults.
"""
import argparse
import os
import sys
from typing import Any, Dict, List, Optional, Sequence

from posecls.tao.errors import SpecError, TaskNotAvailable
from posecls.tao.help import task_keys_help
from posecls.tao.schema import TASKS

TASK_HELP = {
    'train': 'train a model (checkpoints in <results_dir>/train, auto-resume)',
    'evaluate': "TAO's accuracy table + metrics JSON + confusion matrix",
    'inference': 'one predicted class name per input sequence',
    'export': 'export a checkpoint to ONNX, verified with ONNX Runtime',
    'gen_trt_engine': 'build a TensorRT engine from the ONNX file (NVIDIA GPU and posecls[tensorrt])',
    'dataset_convert': 'deepstream-bodypose-3d JSON -> skeleton arrays',
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``posecls``."""
    parser = argparse.ArgumentParser(
        prog='posecls', description='TAO PoseClassificationNet-compatible tasks on posecls (mmengine).',
        epilog='Run "posecls <task> --help" for the keys of a task. The MMAction-style tools are subcommands too: '
        'posecls test|export_onnx|make_sample_data|... ARGS is posecls-<tool> ARGS (posecls.tools.entry).')
    sub = parser.add_subparsers(dest='command', metavar='{' + ','.join(TASKS) + ',config}')
    sub.required = True
    for task in TASKS:
        p = sub.add_parser(task, help=TASK_HELP[task], description=f'posecls {task}: {TASK_HELP[task]}.',
                           epilog=task_keys_help(task), formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument('-e', '--experiment_spec', '--experiment_spec_file', dest='experiment_spec', required=True,
                       metavar='SPEC.yaml', help='TAO experiment spec (YAML)')
        p.add_argument('overrides', nargs='*', metavar='section.key=value',
                       help='overrides, e.g. train.num_epochs=5 "train.optim.lr_steps=[10,60]" encryption_key=null')
    cfg = sub.add_parser('config', help='convert a TAO spec into an MMAction-style Python config')
    cfg_sub = cfg.add_subparsers(dest='config_command', metavar='convert')
    cfg_sub.required = True
    conv = cfg_sub.add_parser('convert', help='write the Python config equivalent to a TAO spec',
                              description='Write the mmengine/MMAction-style config equivalent to a TAO spec.')
    conv.add_argument('spec', metavar='SPEC.yaml', help='TAO experiment spec')
    conv.add_argument('overrides', nargs='*', metavar='section.key=value', help='overrides applied first')
    conv.add_argument('-o', '--out', metavar='CONFIG.py', help='output file (default: print it)')
    return parser


def prepare(task: str, spec_path: str, overrides: Sequence[str]) -> Dict[str, Any]:
    """Load and check a spec for ``task``; prints the notes. Raises SpecError before any work."""
    from posecls.tao.checks import check_task
    from posecls.tao.spec import load_spec
    spec = load_spec(spec_path, overrides)
    for note in check_task(spec, task):
        print(f'Note: {note}', flush=True)
    return spec


def run_task(task: str, spec_path: str, overrides: Sequence[str] = ()) -> Dict[str, Any]:
    """Run a task programmatically (what ``posecls <task> -e SPEC overrides...`` does); raises on errors.

    The spec's ``encryption_key`` is the process passphrase for the duration of the task.
    """
    from posecls.tao.tasks import get_task
    from posecls.utils.encryption import passphrase_scope
    spec = prepare(task, spec_path, overrides)
    argv = ['-e', spec_path, *overrides]
    with passphrase_scope(spec['encryption_key']):
        return get_task(task)(spec, argv)


def _user_errors() -> tuple:
    """The ordinary errors of :mod:`posecls.tools.cli` (one line, no traceback) plus TaskNotAvailable."""
    from posecls.tools.cli import ordinary_errors
    return (TaskNotAvailable, ) + ordinary_errors()


def tool_command(argv: Sequence[str]) -> Optional[str]:
    """The MMAction-style tool ``posecls <tool> ...`` names, or None (a TAO task, ``config``, an option).

    Every tool of :mod:`posecls.tools.entry` whose name is not a TAO task is also a ``posecls``
    subcommand (``posecls test``, ``posecls stream``, ``posecls report`` ...): the same as ``posecls-<tool>``.
    """
    from posecls.tools.entry import TOOLS
    if not argv:
        return None
    name = argv[0].replace('-', '_')
    return name if name in TOOLS and name not in TASKS else None


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of the ``posecls`` console script; returns the exit code.

    Exit codes: 0 success, 2 invalid command line or spec (nothing was done),
    1 a task error (missing component, unreadable checkpoint, wrong key ...).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    tool = tool_command(argv)
    if tool is not None:
        import importlib

        from posecls.tools.cli import run_tool
        return run_tool(importlib.import_module(f'posecls.tools.{tool}').main, argv[1:], prog=f'posecls {argv[0]}')
    args = build_parser().parse_args(argv)
    name = 'config convert' if args.command == 'config' else args.command
    try:
        if args.command == 'config':
            from posecls.tao.config_convert import convert
            text = convert(args.spec, args.overrides, args.out)
            if args.out:
                print(f'Config written to {args.out}')
            else:
                print(text)
            return 0
        result = run_task(args.command, args.experiment_spec, args.overrides)
        return int(result.get('exit_code', 0)) if isinstance(result, dict) else 0
    except SpecError as e:
        print(f'posecls {name}: error in the experiment spec: {e}', file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 - user-facing errors get one clear line, bugs keep their traceback
        from posecls.tools.cli import DEBUG_ENV, error_message
        if isinstance(e, _user_errors()) and os.environ.get(DEBUG_ENV, '') in ('', '0'):
            print(f'posecls {name}: error: {error_message(e)}', file=sys.stderr)
            return 1
        raise


if __name__ == '__main__':
    sys.exit(main())
