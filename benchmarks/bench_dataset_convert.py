"""Benchmark: posecls dataset_convert vs a literal re-implementation of TAO's loops, on the same JSON.

Generates a realistic deepstream-bodypose-3d JSON (30 MB by default) with
posecls.datasets.deepstream.generate_deepstream_json and converts it with TAO's
algorithm written as TAO writes it (json.load, per-joint Python loops,
np.concatenate per window, np.save; tests/tao_dataset_convert_ref.py) and with posecls
(streaming simdjson parse, vectorised features and windows, atomic fsync'ed writes).

End to end (the default): every command is a fresh process, so the time includes the
interpreter's start and every import, as a user sees it:

* ``tao-loops``: ``python -c "from tao_dataset_convert_ref import tao_convert; tao_convert(...)"``
* ``posecls-tool``: ``python tools/dataset_convert.py --data IN --results-dir OUT --quiet``
* ``posecls-tao``: ``python -m posecls dataset_convert -e spec.yaml dataset_convert.data=IN``

The commands run interleaved (A, B, C, A, B, C, ...) after one unmeasured warm-up each (it also
writes the .pyc files an installed package has; ``PYTHONDONTWRITEBYTECODE`` is removed from the
commands' environment), and the medians are compared. ``--in-process`` adds the same comparison
inside this process (no start-up: the converters only). Every output array is checked to be
bit-identical to TAO's.

    python benchmarks/bench_dataset_convert.py                          # 30 MB, 3dbp, 7 runs each
    python benchmarks/bench_dataset_convert.py --frames 5200 --min-mb 50 --in-process
    python benchmarks/bench_dataset_convert.py --pose-type 25dbp
"""
import argparse
import json
import os
import os.path as osp
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TESTS = osp.join(REPO, 'tests')
sys.path[:0] = [REPO, TESTS]

from posecls.datasets.deepstream import convert, generate_deepstream_json  # noqa: E402

from tao_dataset_convert_ref import tao_convert  # noqa: E402


def commands(src: str, out: str, pose_type: str, spec: str) -> dict:
    """The three end-to-end commands (argv lists) writing to ``out``."""
    tao = (f'import sys; sys.path.insert(0, {TESTS!r}); from tao_dataset_convert_ref import tao_convert; '
           f'tao_convert({src!r}, pose_type={pose_type!r}, results_dir={out!r})')
    return {
        'tao-loops': [sys.executable, '-c', tao],
        'posecls-tool': [sys.executable, osp.join(REPO, 'tools', 'dataset_convert.py'), '--data', src,
                         '--results-dir', out, '--pose-type', pose_type, '--quiet'],
        'posecls-tao': [sys.executable, '-m', 'posecls', 'dataset_convert', '-e', spec, f'dataset_convert.data={src}',
                        f'dataset_convert.pose_type={pose_type}', f'results_dir={out}'],
    }


def output_folder(name: str, out: str) -> str:
    """Where a command's object files are (``posecls <task>`` writes to <results_dir>/dataset_convert)."""
    return osp.join(out, 'dataset_convert') if name == 'posecls-tao' else out


def run_once(argv: list, out: str, env: dict) -> float:
    """Wall seconds of one run of ``argv`` into a new, empty ``out``."""
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    t = time.perf_counter()
    res = subprocess.run(argv, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t
    if res.returncode:
        raise SystemExit(f'{argv[:3]} failed ({res.returncode}):\n{res.stderr}')
    return wall


def same_outputs(a: str, b: str) -> bool:
    """Both folders hold the same object_*.npy files, byte for byte."""
    names = sorted(os.listdir(a))
    if names != sorted(os.listdir(b)) or not names:
        return False
    for n in names:
        with open(osp.join(a, n), 'rb') as fa, open(osp.join(b, n), 'rb') as fb:
            if fa.read() != fb.read():
                return False
    return True


def end_to_end(src: str, work: str, pose_type: str, repeat: int) -> dict:
    """Interleaved runs of the three commands; medians, speed-ups and the output check."""
    spec = osp.join(work, 'spec.yaml')
    with open(spec, 'w') as f:
        f.write('dataset_convert:\n  pose_type: 3dbp\n')
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONDONTWRITEBYTECODE'}
    env['PYTHONPATH'] = REPO + (os.pathsep + env['PYTHONPATH'] if env.get('PYTHONPATH') else '')
    outs = {name: osp.join(work, f'out-{name}') for name in ('tao-loops', 'posecls-tool', 'posecls-tao')}
    cmds = {name: commands(src, outs[name], pose_type, spec)[name] for name in outs}
    times = {name: [] for name in cmds}
    for name, argv in cmds.items():  # warm-up: page cache, .pyc files
        run_once(argv, outs[name], env)
    for _ in range(repeat):
        for name, argv in cmds.items():
            times[name].append(run_once(argv, outs[name], env))
    med = {name: statistics.median(ts) for name, ts in times.items()}
    tao_dir = outs['tao-loops']
    return dict(
        runs=repeat, median_s={k: round(v, 3) for k, v in med.items()},
        all_s={k: [round(x, 3) for x in v] for k, v in times.items()},
        speedup_tool=round(med['tao-loops'] / med['posecls-tool'], 1),
        speedup_tao_command=round(med['tao-loops'] / med['posecls-tao'], 1),
        outputs_identical=all(same_outputs(tao_dir, output_folder(n, outs[n]))
                              for n in ('posecls-tool', 'posecls-tao')),
        commands={k: shell_line(v, work) for k, v in cmds.items()})


def shell_line(argv: list, work: str) -> str:
    """``argv`` as a shell line, with ``python``, ``WORK`` and repository-relative paths (for the docs)."""
    words = ['python'] + [a.replace(work, 'WORK').replace(REPO + os.sep, '') for a in argv[1:]]
    return ' '.join(shlex.quote(w) for w in words)


def in_process(src: str, work: str, pose_type: str, repeat: int) -> dict:
    """Interleaved in-process runs (no interpreter start, no imports)."""
    tao_dir, our_dir = osp.join(work, 'ip-tao'), osp.join(work, 'ip-posecls')
    tao_s, our_s = [], []
    for _ in range(repeat):
        for d in (tao_dir, our_dir):
            shutil.rmtree(d, ignore_errors=True)
            os.makedirs(d)
        t = time.perf_counter()
        tao_convert(src, pose_type=pose_type, results_dir=tao_dir)
        tao_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        convert(src, our_dir, pose_type=pose_type, progress=False)
        our_s.append(time.perf_counter() - t)
    tao_m, our_m = statistics.median(tao_s), statistics.median(our_s)
    return dict(runs=repeat, tao_loops_s=round(tao_m, 3), posecls_s=round(our_m, 3), speedup=round(tao_m / our_m, 1),
                outputs_identical=same_outputs(tao_dir, our_dir))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--frames', type=int, default=2100, help='video length in frames (2100: ~30 MB)')
    p.add_argument('--tracks', type=int, default=7, help='people in the scene')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--pose-type', default='3dbp', choices=['3dbp', '25dbp', '2dbp'])
    p.add_argument('--min-mb', type=float, default=29.0, help='fail if the generated JSON is smaller')
    p.add_argument('--repeat', type=int, default=7, help='measured runs of each command (medians are reported)')
    p.add_argument('--in-process', action='store_true', help='also compare the converters inside this process')
    p.add_argument('--workdir', help='folder for the JSON and outputs (default: a temporary folder, removed)')
    args = p.parse_args(argv)
    work = args.workdir or tempfile.mkdtemp(prefix='bench_dc_')
    os.makedirs(work, exist_ok=True)
    try:
        src = osp.join(work, 'bench.json')
        info = generate_deepstream_json(src, num_frames=args.frames, num_tracks=args.tracks, seed=args.seed)
        size_mb = info['bytes'] / 1e6
        appearances = sum(len(tr['frame_nums']) for tr in info['tracks'])
        print(f'input: {src}: {size_mb:.1f} MB, {info["frames"]} frames, {len(info["tracks"])} tracks, '
              f'{appearances} object appearances', flush=True)
        if size_mb < args.min_mb:
            raise SystemExit(f'generated JSON is {size_mb:.1f} MB < --min-mb {args.min_mb}; raise --frames/--tracks')
        result = dict(machine=f'{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores',
                      load_average=[round(x, 2) for x in os.getloadavg()], python=platform.python_version(),
                      numpy=np.__version__, pose_type=args.pose_type, json_mb=round(size_mb, 1),
                      appearances=appearances, end_to_end=end_to_end(src, work, args.pose_type, args.repeat))
        if args.in_process:
            result['in_process'] = in_process(src, work, args.pose_type, args.repeat)
        print(json.dumps(result, indent=1))
        if not result['end_to_end']['outputs_identical'] or not result.get('in_process', {}).get(
                'outputs_identical', True):
            raise SystemExit('outputs differ')
        return result
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
