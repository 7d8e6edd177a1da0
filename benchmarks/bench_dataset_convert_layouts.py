"""Benchmark: dataset_convert time and peak memory for one-batch vs per-frame-batch layouts of the same data.

Writes one realistic deepstream-bodypose-3d scene twice with
posecls.datasets.deepstream.generate_deepstream_json: one frame per batch
object (``frames_per_batch=1``) and every frame in ONE batch object (what a
large nvstreammux batch or a hand-merged file looks like). Each conversion runs
in a fresh Python process, in TAO mode (``object_<id>.npy``) and in labelled
mode (labels from the generator's action schedule, 20 % val split), and
reports the wall time of ``convert()`` and the peak RSS (``VmHWM`` of
/proc/self/status) of that process, with the RSS after the imports (torch
included) as the baseline. Both layouts must give byte-identical outputs.

    python benchmarks/bench_dataset_convert_layouts.py                       # ~202 MB per layout (~30 s)
    python benchmarks/bench_dataset_convert_layouts.py --frames 7000         # ~103 MB per layout
    python benchmarks/bench_dataset_convert_layouts.py --impl /path/to/other/checkout   # measure another version
"""
import argparse
import json
import os
import os.path as osp
import platform
import shutil
import subprocess
import sys
import tempfile
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
LAYOUTS = (('per_frame', 1), ('one_batch', 10 ** 9))


def _vm_hwm_mb() -> float:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) / 1024
    raise RuntimeError('no VmHWM in /proc/self/status')


def child(args) -> None:
    """One conversion in this process; prints a JSON line."""
    sys.path.insert(0, args.impl)
    from posecls.datasets.deepstream import convert  # noqa: E402
    base = _vm_hwm_mb()
    extra = dict(labels=args.labels, val_ratio=0.2) if args.labels else {}
    t = time.perf_counter()
    summary = convert(args.src, args.out, pose_type=args.pose_type, progress=False, **extra)
    wall = time.perf_counter() - t
    print(json.dumps(dict(wall_s=wall, peak_rss_mb=_vm_hwm_mb(), import_rss_mb=base, windows=summary['windows'],
                          batches=summary['inputs'][0]['batches'])))


def run_child(args, src: str, out: str, labels: str = None) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, osp.abspath(__file__), '--child', '--impl', args.impl, '--src', src, '--out', out,
           '--pose-type', args.pose_type] + (['--labels', labels] if labels else [])
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    if r.returncode:
        raise SystemExit(f'{" ".join(cmd)} failed:\n{r.stderr[-3000:]}')
    return json.loads(r.stdout.strip().splitlines()[-1])


def same_outputs(a: str, b: str) -> bool:
    names = sorted(os.listdir(a))
    if names != sorted(os.listdir(b)):
        return False
    for n in names:
        with open(osp.join(a, n), 'rb') as fa, open(osp.join(b, n), 'rb') as fb:
            while True:
                x, y = fa.read(1 << 24), fb.read(1 << 24)
                if x != y:
                    return False
                if not x:
                    break
    return True


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--frames', type=int, default=13200, help='video length in frames (13200 -> ~202 MB per layout)')
    p.add_argument('--tracks', type=int, default=7, help='people in the scene')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--pose-type', default='3dbp', choices=['3dbp', '25dbp', '2dbp'])
    p.add_argument('--modes', nargs='+', default=['tao', 'labelled'], choices=['tao', 'labelled'])
    p.add_argument('--repeat', type=int, default=2, help='runs per case (best time, highest RSS reported)')
    p.add_argument('--impl', default=REPO, help='checkout whose posecls package is measured')
    p.add_argument('--timeout', type=float, default=3600, help='seconds allowed per conversion')
    p.add_argument('--workdir', help='folder for the JSON and outputs (default: a temporary folder, removed)')
    p.add_argument('--json', help='also write the results here')
    p.add_argument('--child', action='store_true', help=argparse.SUPPRESS)
    p.add_argument('--src', help=argparse.SUPPRESS)
    p.add_argument('--out', help=argparse.SUPPRESS)
    p.add_argument('--labels', help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return child(args)
    sys.path.insert(0, REPO)
    from posecls.datasets.deepstream import generate_deepstream_json, ground_truth_labels  # noqa: E402
    work = args.workdir or tempfile.mkdtemp(prefix='bench_dcl_')
    try:
        srcs, size_mb = {}, {}
        for name, fpb in LAYOUTS:
            os.makedirs(osp.join(work, name), exist_ok=True)
            src = osp.join(work, name, 'scene.json')  # same file name: labelled sample names include it
            info = generate_deepstream_json(src, num_frames=args.frames, num_tracks=args.tracks, seed=args.seed,
                                            frames_per_batch=fpb)
            srcs[name], size_mb[name] = src, info['bytes'] / 1e6
        labels = osp.join(work, 'labels.csv')
        ground_truth_labels(info, labels)
        appearances = sum(len(t['frame_nums']) for t in info['tracks'])
        print(f'input: {size_mb["per_frame"]:.1f} MB per-frame batches, {size_mb["one_batch"]:.1f} MB one batch; '
              f'{len(info["frame_ends"])} frames, {appearances} object appearances; measuring {args.impl}')
        results = []
        for mode in args.modes:
            row = dict(mode=mode)
            for name, _ in LAYOUTS:
                out = osp.join(work, f'out_{mode}_{name}')
                runs = [run_child(args, srcs[name], out, labels if mode == 'labelled' else None)
                        for _ in range(args.repeat)]
                row[name] = dict(wall_s=round(min(r['wall_s'] for r in runs), 2),
                                 peak_rss_mb=round(max(r['peak_rss_mb'] for r in runs)),
                                 import_rss_mb=round(max(r['import_rss_mb'] for r in runs)),
                                 windows=runs[0]['windows'], batches=runs[0]['batches'])
                print(f'  {mode:8s} {name:9s}: {row[name]["wall_s"]:7.2f} s, peak RSS {row[name]["peak_rss_mb"]} MB '
                      f'(after imports {row[name]["import_rss_mb"]} MB)', flush=True)
            row['identical'] = same_outputs(osp.join(work, f'out_{mode}_per_frame'),
                                            osp.join(work, f'out_{mode}_one_batch'))
            row['time_ratio'] = round(row['one_batch']['wall_s'] / row['per_frame']['wall_s'], 2)
            results.append(row)
        summary = dict(machine=f'{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores',
                       python=platform.python_version(), impl=args.impl, pose_type=args.pose_type,
                       json_mb={k: round(v, 1) for k, v in size_mb.items()}, appearances=appearances,
                       results=results)
        print(json.dumps(summary, indent=1))
        if args.json:
            with open(args.json, 'w') as f:
                json.dump(summary, f, indent=1)
        if not all(r['identical'] for r in results):
            raise SystemExit('outputs of the two layouts differ')
        return summary
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
