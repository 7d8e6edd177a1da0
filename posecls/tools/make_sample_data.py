"""Write the embedded sample data: NVIDIA-layout skeleton arrays (six actions) and/or a DeepStream JSON recording."""
import argparse
from typing import Dict, List, Optional

from posecls.datasets.sample_data import write_sample_dataset


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse ``tools/make_sample_data.py`` / ``posecls-make-sample-data`` arguments."""
    p = argparse.ArgumentParser(
        description='Write the embedded synthetic sample: {train,val}_{data.npy,label.pkl} and label_map.json '
        '(TAO 3dbp arrays (N, 3, T, 34, 1), six actions: sitting_down, getting_up, sitting, standing, walking, '
        'jumping), and optionally a deepstream-bodypose-3d --save-pose JSON recording (demo_3dbp.json).')
    p.add_argument('--out', default='data/nvidia_sample', help='output folder of the arrays (default %(default)s)')
    p.add_argument('--train-per-class', type=int, default=10)
    p.add_argument('--val-per-class', type=int, default=5)
    p.add_argument('--t-max', type=int, default=100, help='frames T per array (TAO dataset_convert\'s '
                   'sequence_length_max; the sample actions last 70-100 frames; default %(default)s)')
    p.add_argument('--seed', type=int, default=0, help='the same seed gives byte-identical files')
    p.add_argument('--no-arrays', action='store_true', help='write only the --deepstream-json recording')
    p.add_argument('--deepstream-json', metavar='FILE', help='also write a deepstream-bodypose-3d JSON recording '
                   '(people entering, leaving and occluded) to FILE, e.g. demo_3dbp.json')
    p.add_argument('--frames', type=int, default=600, help='frames of the JSON recording (default %(default)s)')
    p.add_argument('--people', type=int, default=4, help='tracked people in the JSON recording (default %(default)s)')
    p.add_argument('--verbose', action='store_true',
                   help='full log (the config dump, hooks, per-iteration lines) and tracebacks of errors')
    return p.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> Dict[str, str]:
    """Write the files; prints and returns their paths."""
    args = parse_args(argv)
    paths: Dict[str, str] = {}
    if not args.no_arrays:
        paths.update(write_sample_dataset(args.out, args.train_per_class, args.val_per_class, seed=args.seed,
                                          t_max=args.t_max))
    if args.deepstream_json:
        from posecls.datasets.deepstream import generate_deepstream_json
        truth = generate_deepstream_json(args.deepstream_json, num_frames=args.frames, num_tracks=args.people,
                                         seed=args.seed)
        paths['deepstream'] = truth['path']
    if not paths:
        raise SystemExit('nothing to write: --no-arrays without --deepstream-json')
    for key, path in paths.items():
        print(f'{key:12s} {path}')
    return paths
