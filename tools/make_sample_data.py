"""Write the embedded NVIDIA-layout sample dataset (six actions, TAO 3dbp format).

Usage: python tools/make_sample_data.py [--out data/nvidia_sample] [--train-per-class 10]
       [--val-per-class 5] [--seed 0]
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from posecls.datasets.sample_data import write_sample_dataset  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--out', default='data/nvidia_sample', help='output folder')
    parser.add_argument('--train-per-class', type=int, default=10)
    parser.add_argument('--val-per-class', type=int, default=5)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    paths = write_sample_dataset(args.out, args.train_per_class, args.val_per_class, seed=args.seed)
    for key, path in paths.items():
        print(f'{key:12s} {path}')


if __name__ == '__main__':
    main()
