"""Benchmark: posecls dataset_convert vs a literal re-implementation of TAO's loops, on the same JSON.

Generates a realistic deepstream-bodypose-3d JSON (>= 50 MB by default) with
posecls.datasets.deepstream.generate_deepstream_json, converts it with TAO's
algorithm written as TAO writes it (json.load, per-joint Python loops,
np.concatenate per window, np.save; tests/tao_dataset_convert_ref.py) and with
posecls.datasets.deepstream.convert (streaming simdjson parse, vectorised
features and windows, atomic fsync'ed writes), checks that every output array
is bit-identical, and prints the times and the speed-up (best of --repeat).

    python benchmarks/bench_dataset_convert.py                      # ~60 MB, 3dbp
    python benchmarks/bench_dataset_convert.py --pose-type 25dbp --frames 3000 --tracks 6
"""
import argparse
import json
import os
import os.path as osp
import platform
import shutil
import sys
import tempfile
import time

import numpy as np

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path[:0] = [REPO, osp.join(REPO, 'tests')]

from posecls.datasets.deepstream import convert, generate_deepstream_json  # noqa: E402

from tao_dataset_convert_ref import tao_convert  # noqa: E402


def best_of(fn, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return min(times), result


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--frames', type=int, default=5200, help='video length in frames')
    p.add_argument('--tracks', type=int, default=7, help='people in the scene')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--pose-type', default='3dbp', choices=['3dbp', '25dbp', '2dbp'])
    p.add_argument('--min-mb', type=float, default=50.0, help='fail if the generated JSON is smaller')
    p.add_argument('--repeat', type=int, default=3, help='runs of posecls (best time is reported)')
    p.add_argument('--tao-repeat', type=int, default=2, help='runs of the TAO loops (best time is reported)')
    p.add_argument('--workdir', help='folder for the JSON and outputs (default: a temporary folder, removed)')
    args = p.parse_args(argv)
    work = args.workdir or tempfile.mkdtemp(prefix='bench_dc_')
    os.makedirs(work, exist_ok=True)
    try:
        src = osp.join(work, 'bench_3dbp.json')
        t = time.perf_counter()
        info = generate_deepstream_json(src, num_frames=args.frames, num_tracks=args.tracks, seed=args.seed)
        gen_s = time.perf_counter() - t
        size_mb = info['bytes'] / 1e6
        appearances = sum(len(tr['frame_nums']) for tr in info['tracks'])
        print(f'input: {src}: {size_mb:.1f} MB, {info["frames"]} frames, {len(info["tracks"])} tracks, '
              f'{appearances} object appearances (generated in {gen_s:.1f} s)')
        if size_mb < args.min_mb:
            raise SystemExit(f'generated JSON is {size_mb:.1f} MB < --min-mb {args.min_mb}; raise --frames/--tracks')

        tao_dir, our_dir = osp.join(work, 'tao'), osp.join(work, 'posecls')
        os.makedirs(tao_dir, exist_ok=True)
        tao_s, ref = best_of(lambda: tao_convert(src, pose_type=args.pose_type, results_dir=tao_dir), args.tao_repeat)
        our_s, summary = best_of(lambda: convert(src, our_dir, pose_type=args.pose_type, progress=False),
                                 args.repeat)

        same = True
        for oid, arr in ref.items():
            ours = np.load(osp.join(our_dir, f'object_{oid}.npy'), allow_pickle=False)
            theirs = np.load(osp.join(tao_dir, f'object_{oid}.npy'), allow_pickle=False)
            same &= ours.shape == arr.shape and ours.tobytes() == arr.tobytes() == theirs.tobytes()
        same &= sorted(os.listdir(our_dir)) == sorted(os.listdir(tao_dir))
        result = dict(machine=f'{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores',
                      python=platform.python_version(), numpy=np.__version__, pose_type=args.pose_type,
                      json_mb=round(size_mb, 1), appearances=appearances, objects=summary['objects'],
                      windows=summary['windows'], tao_loops_s=round(tao_s, 3), posecls_s=round(our_s, 3),
                      speedup=round(tao_s / our_s, 1), outputs_identical=bool(same))
        print(json.dumps(result, indent=1))
        if not same:
            raise SystemExit('outputs differ')
        return result
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
