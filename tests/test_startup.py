"""Start-up: the converter, ``posecls --help`` and every tool's ``--help`` import neither torch nor mmengine.

One fresh interpreter (``_PROBE``) runs, in order, ``tools/dataset_convert.py`` on a small DeepStream JSON, a
converter error, ``posecls dataset_convert -e spec.yaml``, ``posecls --help``, ``posecls <task> --help`` and
``--help`` of every ``posecls-<tool>``, recording after each step which heavy modules are in ``sys.modules``;
only then it calls ``register_all_modules()`` and reports what the registries hold. Times are measured by
benchmarks/bench_startup.py, not here.
"""
import json
import os
import subprocess
import sys

import pytest

from posecls.datasets.deepstream import generate_deepstream_json
from posecls.tools.entry import TOOLS

from conftest import REPO

HEAVY = ('torch', 'mmengine', 'onnx', 'onnxruntime', 'openvino', 'tensorrt', 'matplotlib', 'plotly', 'cryptography')

_PROBE = r'''
import contextlib, io, json, os, runpy, sys
HEAVY, TOOLS, REPO, SRC, OUT, SPEC = json.loads(sys.argv[1])
steps = []

def heavy():
    return sorted({m.split('.')[0] for m in sys.modules} & set(HEAVY))

def step(name, fn):
    out, err = io.StringIO(), io.StringIO()
    code = None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = fn()
            code = code if isinstance(code, int) else None  # an exit code, or a finished script/import
        except SystemExit as e:
            code = e.code
        except Exception as e:  # reported per step (e.g. a tool module that does not exist)
            code = f'{type(e).__name__}: {e}'
    steps.append(dict(step=name, heavy=heavy(), code=code, out=out.getvalue()[:400], err=err.getvalue()[-400:]))

def script(path, *args):
    def run():
        sys.argv = [path, *args]
        runpy.run_path(path, run_name='__main__')
    return run

def tao(*args):
    from posecls.tao.cli import main
    return lambda: main(list(args))

def tool(name, *args):
    def run():
        from posecls.tools.entry import run as run_entry
        sys.argv = [f'posecls-{name}', *args]
        return run_entry(name)
    return run

step('import posecls', lambda: __import__('posecls'))
gomp = os.environ.get('GOMP_SPINCOUNT')
step('tools/dataset_convert.py', script(os.path.join(REPO, 'tools', 'dataset_convert.py'), '--data', SRC,
                                        '--results-dir', os.path.join(OUT, 'tool'), '--quiet'))
step('tools/dataset_convert.py, missing input', script(os.path.join(REPO, 'tools', 'dataset_convert.py'), '--data',
                                                       SRC + '.missing', '--results-dir', os.path.join(OUT, 'x')))
step('posecls dataset_convert -e', tao('dataset_convert', '-e', SPEC, f'dataset_convert.data={SRC}',
                                       f'results_dir={os.path.join(OUT, "tao")}'))
step('posecls --help', tao('--help'))
for task in ('dataset_convert', 'train', 'evaluate', 'inference', 'export'):
    step(f'posecls {task} --help', tao(task, '--help'))
for name in TOOLS:
    step(f'posecls-{name} --help', tool(name, '--help'))

import posecls.utils
posecls.utils.register_all_modules()
from mmengine.fileio.backends import backends
from posecls import registry
regs = {n: sorted(getattr(registry, n).module_dict) for n in ('DATASETS', 'DATA_SAMPLERS', 'TRANSFORMS', 'MODELS',
                                                               'METRICS', 'HOOKS', 'OPTIM_WRAPPERS', 'GRAPHS')}
print(json.dumps(dict(steps=steps, gomp=gomp, registries=regs, atomic_local='atomic_local' in backends)))
'''


@pytest.fixture(scope='module')
def probe(tmp_path_factory):
    """Run _PROBE once in a fresh interpreter; its JSON report."""
    tmp = tmp_path_factory.mktemp('startup')
    src = str(tmp / 'scene.json')
    generate_deepstream_json(src, num_frames=120, num_tracks=2, seed=3)
    spec = tmp / 'spec.yaml'
    spec.write_text('dataset_convert:\n  pose_type: 3dbp\n')
    env = {k: v for k, v in os.environ.items() if k not in ('GOMP_SPINCOUNT', 'PYTHONPATH')}
    env['PYTHONPATH'] = REPO
    arg = json.dumps([HEAVY, list(TOOLS), REPO, src, str(tmp / 'out'), str(spec)])
    r = subprocess.run([sys.executable, '-c', _PROBE, arg], cwd=str(tmp), env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    report = json.loads(r.stdout.strip().splitlines()[-1])
    report['tmp'] = str(tmp)
    return report


def _steps(report, prefix):
    found = [s for s in report['steps'] if s['step'].startswith(prefix)]
    assert found, prefix
    return found


def test_converter_path_imports_neither_torch_nor_mmengine(probe):
    for s in _steps(probe, 'tools/dataset_convert.py') + _steps(probe, 'posecls dataset_convert -e'):
        assert s['heavy'] == [], f"{s['step']} imported {s['heavy']}"
    ok, missing, tao = (_steps(probe, 'tools/dataset_convert.py')[0], _steps(probe, 'tools/dataset_convert.py,')[0],
                        _steps(probe, 'posecls dataset_convert -e')[0])
    assert ok['code'] == 0, ok['err']
    assert sorted(os.listdir(os.path.join(probe['tmp'], 'out', 'tool'))) == sorted(
        os.listdir(os.path.join(probe['tmp'], 'out', 'tao', 'dataset_convert')))
    assert len(os.listdir(os.path.join(probe['tmp'], 'out', 'tool'))) == 2  # one object_<id>.npy per person
    # an ordinary error still gets its one line (the error types are classified without importing torch)
    assert missing['code'] == 1 and 'error: dataset_convert.data: file not found' in missing['err']
    assert tao['code'] in (None, 0)


def test_every_help_imports_neither_torch_nor_mmengine(probe):
    helps = [s for s in probe['steps'] if s['step'].endswith('--help')]
    assert len(helps) == 1 + 5 + len(TOOLS)
    failed = [f"{s['step']}: exit {s['code']!r}, {s['err'][-200:]!r}" for s in helps
              if s['code'] not in (0, None) or 'usage:' not in s['out']]
    assert not failed, '\n'.join(failed)
    # one at a time: a step after one that imported torch cannot be judged
    first = next((s for s in helps if s['heavy']), None)
    assert first is None, f"{first['step']} imported {first['heavy']}"


def test_import_posecls_sets_the_gomp_default_and_nothing_heavy(probe):
    assert probe['steps'][0]['heavy'] == []
    assert probe['gomp'] == '10000'


def test_register_all_modules_registers_what_the_lazy_packages_list(probe):
    regs = probe['registries']
    assert 'PoseDataset' in regs['DATASETS'] and 'PoseSampler' in regs['DATA_SAMPLERS']
    assert {'PackPoseInputs', 'UniformSample', 'RandomRotate', 'AutoPad'} <= set(regs['TRANSFORMS'])
    assert {'STGCN', 'STGCNPP', 'CTRGCN', 'GCNHead', 'SkeletonRecognizer'} <= set(regs['MODELS'])
    assert {'PoseAccMetric', 'DumpPredictions'} <= set(regs['METRICS'])
    assert 'PoseCheckpointHook' in regs['HOOKS'] and 'BF16OptimWrapper' in regs['OPTIM_WRAPPERS']
    assert 'nvidia' in regs['GRAPHS'] and probe['atomic_local']


def test_lazy_packages_keep_every_public_name():
    import posecls.apis
    import posecls.datasets
    import posecls.datasets.deepstream
    import posecls.deploy
    import posecls.evaluation
    import posecls.utils
    for pkg in (posecls.apis, posecls.datasets, posecls.datasets.deepstream, posecls.deploy, posecls.utils):
        for name in pkg.__all__:
            assert getattr(pkg, name) is not None, (pkg.__name__, name)
    from posecls.datasets import PackPoseInputs, PoseDataset, load_label_map
    from posecls.datasets.pose_dataset import PoseDataset as Direct
    from posecls.datasets.transforms import PackPoseInputs as DirectPack
    assert PoseDataset is Direct and PackPoseInputs is DirectPack and callable(load_label_map)
    assert 'PackPoseInputs' in dir(posecls.datasets) and 'PoseDataset' in dir(posecls.datasets)
    assert posecls.datasets.pose_dataset.PoseDataset is Direct  # submodules stay reachable as attributes
    from posecls.evaluation import PoseAccMetric, topk_accuracy, write_evaluation_report
    assert callable(topk_accuracy) and callable(write_evaluation_report) and PoseAccMetric.__name__ == 'PoseAccMetric'
    import posecls.deploy.export_onnx  # noqa: F401 - the submodule of the same name does not shadow the function
    from posecls.deploy import export_onnx
    assert callable(export_onnx) and export_onnx.__module__ == 'posecls.deploy.export_onnx'
    assert posecls.deploy.export_onnx is export_onnx
    with pytest.raises(AttributeError, match="'posecls.datasets' has no attribute 'NoSuchThing'"):
        posecls.datasets.NoSuchThing  # noqa: B018
    from posecls.utils.atomic_backend import AtomicLocalBackend as Direct2
    from posecls.utils.atomic_io import AtomicLocalBackend
    assert AtomicLocalBackend is Direct2


def test_known_choices_are_registered():
    from posecls.tao.schema import SPEC, model_types, registered_layouts, registered_strategies
    model = SPEC.fields['model'].fields
    assert set(model['model_type'].known) <= set(model_types())
    assert set(model['graph_layout'].known) <= set(registered_layouts())
    assert set(model['graph_strategy'].known) <= set(registered_strategies())
    from posecls.tao.errors import SpecError
    with pytest.raises(SpecError, match='model.graph_layout: .*not allowed'):
        model['graph_layout'].check('no-such-layout', 'model.graph_layout')


def test_ordinary_errors_and_dict_action():
    import argparse

    from posecls.tools.cli import ordinary_errors
    from posecls.tools.common import DictAction
    from posecls.utils.checkpoint import CheckpointError
    from posecls.utils.input_checks import NonFiniteInputError
    assert CheckpointError in ordinary_errors() and NonFiniteInputError in ordinary_errors()
    p = argparse.ArgumentParser()
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = p.parse_args(['--cfg-options', 'a=1', 'b=[1,2]', 'c.d=True', 'e=x,y', 'f=None'])
    assert args.cfg_options == {'a': 1, 'b': [1, 2], 'c.d': True, 'e': ['x', 'y'], 'f': None}
