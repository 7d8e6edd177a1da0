"""``tools/misc/fuse_scores.py``: fuse the predictions of several streams (posecls.evaluation.fuse_scores)."""
import argparse
import os.path as osp
from typing import Dict, List, Optional

import numpy as np

from posecls.evaluation.fuse_scores import FUSE_INPUTS, accuracy_report, fuse, load_dump
from posecls.utils.atomic_io import atomic_open


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse ``tools/misc/fuse_scores.py`` arguments."""
    parser = argparse.ArgumentParser(description='Fuse tools/test.py --dump files (multi-stream ensembles)')
    parser.add_argument('dumps', nargs='*', help='.npz or .json dumps of tools/test.py --dump')
    parser.add_argument('--weights', nargs='+', help='one weight per dump (default: all 1)')
    parser.add_argument('--use', choices=FUSE_INPUTS, default='scores',
                        help='fuse softmax scores (default) or raw logits')
    parser.add_argument('--out', help='write the fused predictions as a .npz dump (same format as the inputs)')
    parser.add_argument('--verbose', action='store_true',
                    help='full log (the config dump, hooks, per-iteration lines) and tracebacks of errors')
    args = parser.parse_args(argv)
    if args.weights is not None:  # `--weights 1 1 a.npz b.npz`: the dumps after the numbers are dumps
        tokens, args.weights = args.weights, []
        for i, tok in enumerate(tokens):
            try:
                args.weights.append(float(tok))
            except ValueError:
                args.dumps += tokens[i:]
                break
        if not args.weights:
            parser.error(f'--weights: expected numbers, got {tokens[0]!r}')
    if not args.dumps:
        parser.error('give at least one tools/test.py --dump file')
    return args


def main(argv: Optional[List[str]] = None) -> Dict[str, Dict[str, float]]:
    """Fuse, print one accuracy line per input and for the fusion; returns those numbers."""
    args = parse_args(argv)
    dumps = [load_dump(p) for p in args.dumps]
    fused = fuse(dumps, args.weights, args.use, args.dumps)
    labels = dumps[0]['labels']
    report = {}
    for p, d in zip(args.dumps, dumps):
        report[p] = accuracy_report(d[args.use], d['labels'])
    report['fused'] = accuracy_report(fused, labels)
    width = max(len(k) for k in report)
    for name, r in report.items():
        print(f'{name:<{width}}  top1 {r["top1"] * 100:7.3f}  top5 {r["top5"] * 100:7.3f}  '
              f'mean_class {r["mean_class"] * 100:7.3f}')
    if args.out:
        if osp.splitext(args.out)[1] != '.npz':
            raise ValueError(f'--out {args.out}: the fused dump is written as .npz')
        if args.use == 'scores':  # probabilities; logits whose softmax gives them
            scores = fused / fused.sum(axis=1, keepdims=True)
            logits = np.log(np.maximum(scores, 1e-30))
        else:
            logits = fused
            shifted = np.exp(fused - fused.max(axis=1, keepdims=True))
            scores = shifted / shifted.sum(axis=1, keepdims=True)
        with atomic_open(args.out) as f:
            np.savez(f, logits=logits, scores=scores, labels=labels, names=dumps[0]['names'])
        print(f'fused predictions written to {args.out}')
    return report


if __name__ == '__main__':
    main()
