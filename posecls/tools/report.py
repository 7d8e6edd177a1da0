"""Write the HTML report of a training work dir (``posecls report WORK_DIR``): one self-contained page."""
import argparse
from typing import Any, Dict, List, Optional

from posecls.report.animations import VERTICAL
from posecls.tools.common import DictAction


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse ``tools/report.py`` arguments."""
    p = argparse.ArgumentParser(
        description='One self-contained HTML page about a trained run (no network needed to view it): model card, '
        'per-epoch curves, evaluation table, confusion matrix, per-class precision/recall/F1, most confused pairs '
        'and the misclassified samples as skeleton animations. Evaluates the latest checkpoint when the work dir '
        'holds no evaluation of it with a predictions dump.')
    p.add_argument('work_dir', help='training work dir (checkpoints, training_history.json, logs)')
    p.add_argument('--out', help='output HTML file (default: WORK_DIR/report.html)')
    p.add_argument('--checkpoint', help='checkpoint to report on (default: WORK_DIR/pc_model_latest.pth, else the '
                   'newest model_epoch_*.pth)')
    p.add_argument('--config', help='config (default: the one stored in the checkpoint)')
    p.add_argument('--eval-dir', help='use the evaluation in this folder (tools/test.py --work-dir DIR --dump '
                   'FILE.npz); default: the newest one of the checkpoint in WORK_DIR, else a new one in '
                   'WORK_DIR/report/eval')
    p.add_argument('--num-samples', type=int, default=8, help='misclassified samples to animate (default 8)')
    p.add_argument('--max-frames', type=int, default=100, help='most frames per animation (default 100)')
    p.add_argument('--vertical', choices=VERTICAL, default='auto',
                   help='does the 2nd coordinate grow up or down (default: read off the skeleton)')
    p.add_argument('--confused-pairs', type=int, default=10, help='rows of the most-confused-pairs table')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config entries, e.g. test_dataloader.dataset.data_path=...')
    p.add_argument('--verbose', action='store_true',
                   help='full log (the config dump, hooks, per-iteration lines) and tracebacks of errors')
    return p.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    """Write the report; prints and returns its path (and what it used)."""
    args = parse_args(argv)
    from posecls.report import build_report
    res = build_report(args.work_dir, args.out, checkpoint=args.checkpoint, config=args.config,
                       eval_dir=args.eval_dir, num_samples=args.num_samples, max_frames=args.max_frames,
                       vertical=args.vertical, confused_pairs=args.confused_pairs, cfg_options=args.cfg_options,
                       verbose=args.verbose)
    print(f"Report written to {res['path']} ({res['bytes'] / 1e6:.1f} MB, {res['accuracy']:.2f} % top-1, "
          f"{res['misclassified']} misclassified samples animated; evaluation {res['evaluation']})", flush=True)
    return res


if __name__ == '__main__':
    main()
