"""Convert deepstream-bodypose-3d JSON to skeleton arrays (TAO ``dataset_convert``), optionally labelled."""
import argparse
import json
import logging
import sys
from typing import Any, Dict, List, Optional

from posecls.datasets.deepstream import TAO_DEFAULTS, convert, format_summary
from posecls.utils.atomic_io import atomic_write_bytes


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse ``tools/dataset_convert.py`` arguments."""
    d = TAO_DEFAULTS
    p = argparse.ArgumentParser(
        description='Convert deepstream-bodypose-3d --save-pose JSON to TAO skeleton arrays: object_<id>.npy per '
        'tracked object (bit-identical to TAO), or train/val data + labels with --labels.')
    p.add_argument('--data', nargs='+', required=True, help='JSON file(s), folder(s) of *.json, or glob patterns')
    p.add_argument('--results-dir', required=True, help='output folder (TAO writes <results_dir>/dataset_convert; '
                   'here outputs go to this folder directly)')
    g = p.add_argument_group('TAO options (dataset_convert.*)')
    g.add_argument('--pose-type', default=d['pose_type'], choices=['3dbp', '25dbp', '2dbp'])
    g.add_argument('--num-joints', type=int, default=d['num_joints'])
    g.add_argument('--input-width', type=float, default=d['input_width'], help='frame width (25dbp, 2dbp)')
    g.add_argument('--input-height', type=float, default=d['input_height'], help='frame height (25dbp, 2dbp)')
    g.add_argument('--focal-length', type=float, default=d['focal_length'], help='focal length in pixels (3dbp)')
    g.add_argument('--sequence-length-max', type=int, default=d['sequence_length_max'], help='T of the arrays')
    g.add_argument('--sequence-length-min', type=int, default=d['sequence_length_min'], help='shortest window kept')
    g.add_argument('--sequence-length', type=int, default=d['sequence_length'], help='window length')
    g.add_argument('--sequence-overlap', type=float, default=d['sequence_overlap'],
                   help='window step = int(sequence_length * sequence_overlap)')
    x = p.add_argument_group('posecls options')
    x.add_argument('--split-gap', type=int, help='split a track where frame_num jumps by more than N frames '
                   '(default: TAO, one track per object id)')
    x.add_argument('--labels', help='labels CSV (file,object_id,start_frame,end_frame,label): write train_data.npy + '
                   'train_label.pkl instead of object files')
    x.add_argument('--label-map', help='JSON {class: id} the labels must use (default: classes in order of use)')
    split = x.add_mutually_exclusive_group()
    split.add_argument('--val-ratio', type=float, help='fraction of each class (whole tracks) for val_data.npy')
    split.add_argument('--val-files', nargs='+', help='input file names whose windows form the val split')
    x.add_argument('--seed', type=int, default=0, help='seed of the --val-ratio split')
    prog = x.add_mutually_exclusive_group()
    prog.add_argument('--progress', dest='progress', action='store_const', const=True, default='auto',
                      help='always show a progress bar (default: inputs >= 32 MiB on a terminal)')
    prog.add_argument('--no-progress', dest='progress', action='store_const', const=False)
    x.add_argument('--summary-json', help='also write the summary as JSON to this file')
    x.add_argument('--quiet', action='store_true', help='print only the summary')
    p.add_argument('--verbose', action='store_true',
                   help='full log (the config dump, hooks, per-iteration lines) and tracebacks of errors')
    return p.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    """Run the conversion; returns the summary dict."""
    args = parse_args(argv)
    log = logging.getLogger('posecls.dataset_convert')
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter('%(message)s'))
    handler.setLevel(logging.WARNING if args.quiet else logging.INFO)
    log.addHandler(handler)
    old_level = log.level
    log.setLevel(logging.INFO)
    try:
        return _run(args)
    finally:
        log.removeHandler(handler)
        log.setLevel(old_level)


def _run(args: argparse.Namespace) -> Dict[str, Any]:
    extra = dict(split_gap=args.split_gap, progress=args.progress, seed=args.seed)
    if args.labels:
        extra.update(labels=args.labels, label_map=args.label_map, val_ratio=args.val_ratio, val_files=args.val_files)
    elif args.label_map or args.val_ratio is not None or args.val_files:
        raise SystemExit('--label-map, --val-ratio and --val-files need --labels')
    summary = convert(args.data, args.results_dir, pose_type=args.pose_type, num_joints=args.num_joints,
                      input_width=args.input_width, input_height=args.input_height, focal_length=args.focal_length,
                      sequence_length_max=args.sequence_length_max, sequence_length_min=args.sequence_length_min,
                      sequence_length=args.sequence_length, sequence_overlap=args.sequence_overlap, **extra)
    print(format_summary(summary))
    if args.summary_json:
        atomic_write_bytes(args.summary_json, (json.dumps(summary, indent=1, default=str) + '\n').encode())
    return summary


if __name__ == '__main__':
    main()
