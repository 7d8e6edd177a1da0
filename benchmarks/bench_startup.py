"""Benchmark: start-up of the posecls commands (wall time of a fresh process, interpreter start included).

Runs every command below as a new process, interleaved (each round runs all of them once),
after one unmeasured warm-up each (page cache, .pyc files; ``PYTHONDONTWRITEBYTECODE`` is removed
from their environment, as an installed package has its .pyc files), and prints the medians, with
``python -c pass`` and ``python -c "import numpy"`` as the floor. Every command must stay below
``--limit`` seconds (0.5 s: issue 16); the script exits 1 otherwise.

* ``posecls --help``, ``posecls <task> --help`` (``python -m posecls``: the ``posecls`` console script's code);
* ``posecls-<tool> --help`` for every tool of ``posecls.tools.entry.TOOLS`` (the console scripts' code);
* ``python tools/dataset_convert.py --help``;
* ``tools/dataset_convert.py`` and ``posecls dataset_convert -e spec.yaml`` converting a small (~1 MB)
  DeepStream JSON (start-up dominates).

``--baseline PATH`` measures another checkout (e.g. ``mkdir /tmp/before && git archive HEAD | tar -x -C
/tmp/before``) in the same rounds, so before/after are side by side.

    python benchmarks/bench_startup.py
    python benchmarks/bench_startup.py --repeat 11 --baseline /tmp/before
"""
import argparse
import json
import os
import os.path as osp
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)


def tool_names(root: str) -> list:
    """``TOOLS`` of ``<root>/posecls/tools/entry.py`` (read without importing that checkout)."""
    import ast
    with open(osp.join(root, 'posecls', 'tools', 'entry.py')) as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], 'id', None) == 'TOOLS':
            return list(ast.literal_eval(node.value))
    raise SystemExit(f'{root}: no TOOLS in posecls/tools/entry.py')


def commands(root: str, src: str, spec: str, out: str) -> dict:
    """``{label: argv}`` of the commands of the checkout ``root``."""
    py = sys.executable
    cmds = {
        'posecls --help': [py, '-m', 'posecls', '--help'],
        'posecls dataset_convert --help': [py, '-m', 'posecls', 'dataset_convert', '--help'],
        'posecls train --help': [py, '-m', 'posecls', 'train', '--help'],
        'tools/dataset_convert.py --help': [py, osp.join(root, 'tools', 'dataset_convert.py'), '--help'],
    }
    for name in tool_names(root):
        if not osp.isfile(osp.join(root, 'posecls', 'tools', f'{name}.py')):
            print(f'{root}: posecls.tools.{name} does not exist; posecls-{name} left out', file=sys.stderr)
            continue
        cmds[f'posecls-{name.replace("_", "-")} --help'] = [
            py, '-c', f'import sys; sys.argv[0] = "posecls-{name}"; from posecls.tools.entry import run; '
            f'sys.exit(run({name!r}))', '--help']
    cmds['tools/dataset_convert.py, 1 MB JSON'] = [py, osp.join(root, 'tools', 'dataset_convert.py'), '--data', src,
                                                   '--results-dir', osp.join(out, 'tool'), '--quiet']
    cmds['posecls dataset_convert -e, 1 MB JSON'] = [py, '-m', 'posecls', 'dataset_convert', '-e', spec,
                                                     f'dataset_convert.data={src}', f'results_dir={out}']
    return cmds


def run_once(argv: list, env: dict, cwd: str) -> float:
    t = time.perf_counter()
    r = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t
    if r.returncode:
        raise SystemExit(f'{" ".join(argv[1:4])} ... failed ({r.returncode}):\n{r.stderr[-2000:]}')
    return wall


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--repeat', type=int, default=7, help='measured rounds (medians are reported)')
    p.add_argument('--limit', type=float, default=0.5, help='start-up budget per command, seconds')
    p.add_argument('--baseline', help='another posecls checkout measured in the same rounds (before/after)')
    args = p.parse_args(argv)
    from posecls.datasets.deepstream import generate_deepstream_json

    work = tempfile.mkdtemp(prefix='bench_startup_')
    try:
        src = osp.join(work, 'scene.json')
        generate_deepstream_json(src, num_frames=80, num_tracks=3, seed=0)
        spec = osp.join(work, 'spec.yaml')
        with open(spec, 'w') as f:
            f.write('dataset_convert:\n  pose_type: 3dbp\n')
        base_env = {k: v for k, v in os.environ.items() if k not in ('PYTHONDONTWRITEBYTECODE', 'PYTHONPATH')}
        impls = {'posecls': REPO}
        if args.baseline:
            impls['baseline'] = osp.abspath(args.baseline)
        jobs = {('floor', 'python -c pass'): ([sys.executable, '-c', 'pass'], base_env),
                ('floor', 'python -c "import numpy"'): ([sys.executable, '-c', 'import numpy'], base_env)}
        for impl, root in impls.items():
            env = dict(base_env, PYTHONPATH=root)
            out = osp.join(work, f'out-{impl}')
            for label, cmd in commands(root, src, spec, out).items():
                jobs[(impl, label)] = (cmd, env)
        cwd = osp.join(work, 'cwd')
        os.makedirs(cwd)
        for cmd, env in jobs.values():  # warm-up
            run_once(cmd, env, cwd)
        times = {key: [] for key in jobs}
        for _ in range(args.repeat):
            for key, (cmd, env) in jobs.items():
                times[key].append(run_once(cmd, env, cwd))
        med = {key: statistics.median(ts) for key, ts in times.items()}
        labels = list(dict.fromkeys(label for _, label in jobs))
        rows = []
        for label in labels:
            row = dict(command=label, **{impl: round(med[(impl, label)], 3) for impl in ['floor', *impls]
                                         if (impl, label) in med})
            rows.append(row)
        over = [r['command'] for r in rows if r.get('posecls', 0) > args.limit]
        result = dict(machine=f'{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores',
                      load_average=[round(x, 2) for x in os.getloadavg()], python=platform.python_version(),
                      runs=args.repeat, limit_s=args.limit, median_s=rows, over_limit=over)
        print(json.dumps(result, indent=1))
        width = max(len(r['command']) for r in rows)
        print(f"\n{'command':<{width}}  " + '  '.join(f'{k:>9}' for k in ['floor', *impls]))
        for r in rows:
            print(f"{r['command']:<{width}}  " + '  '.join(f"{r[k]:>9.3f}" if k in r else ' ' * 9
                                                          for k in ['floor', *impls]))
        if over:
            print(f'over {args.limit} s: {over}')
            sys.exit(1)
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
