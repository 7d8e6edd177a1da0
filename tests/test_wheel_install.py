"""The package outside the source tree: a wheel installed into a fresh venv runs the shipped configs, specs and
projects from another directory through its console scripts."""
import os
import os.path as osp
import shutil
import site
import subprocess
import sys
import sysconfig

import pytest

from conftest import REPO


@pytest.fixture(scope='module')
def venv(tmp_path_factory):
    """A venv holding only the posecls wheel; its dependencies come from this interpreter's site-packages as a
    plain path (so this checkout's editable install, a .pth hook there, is not seen)."""
    root = tmp_path_factory.mktemp('wheel')
    dist, src = root / 'dist', root / 'src'  # built from a copy: the build writes build/ and *.egg-info
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns('.git', 'work_dirs', 'data', 'build', 'dist', '*.egg-info',
                                                             '__pycache__', '.pytest_cache', 'outputs'))
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '-q', '-w', str(dist),
                    str(src)], check=True, capture_output=True, timeout=300)
    wheel = next(dist.glob('posecls-*.whl'))
    env_dir = root / 'venv'
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(env_dir)], check=True, timeout=120)
    py = str(env_dir / 'bin' / 'python')
    purelib = subprocess.run([py, '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'], check=True,
                             capture_output=True, text=True).stdout.strip()
    deps = [p for p in site.getsitepackages() + [sysconfig.get_paths()['purelib']] if osp.isdir(p)]
    with open(osp.join(purelib, 'base_dependencies.pth'), 'w') as f:
        f.write('\n'.join(dict.fromkeys(deps)) + '\n')
    subprocess.run([sys.executable, '-m', 'pip', '--python', py, 'install', '--no-deps', '--no-index', '-q',
                    str(wheel)], check=True, capture_output=True, timeout=300)
    work = root / 'elsewhere'
    work.mkdir()
    return dict(bin=str(env_dir / 'bin'), py=py, work=str(work), purelib=purelib)


def _run(venv, *cmd, timeout=300):
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'PYTHONHOME')}
    env['OMP_NUM_THREADS'] = '1'
    return subprocess.run(list(cmd), cwd=venv['work'], env=env, capture_output=True, text=True, timeout=timeout)


def test_the_installed_package_is_the_wheel_with_its_package_data(venv):
    res = _run(venv, venv['py'], '-c', 'import posecls, os.path as p; from posecls.utils.package_data import '
               'package_data_root; print(posecls.__file__); print(package_data_root())')
    assert res.returncode == 0, res.stderr
    module, data_root = res.stdout.split()
    assert module.startswith(venv['purelib']) and data_root == osp.join(venv['purelib'], 'posecls', '.mim')
    for rel in ('configs/stgcn_nvidia_sample.py', 'configs/nwucla/ctrgcn_joint.py', 'specs/experiment_nvidia.yaml',
                'projects/kinect_v1/layout.py', 'tools/run_sample_job.sh'):
        assert osp.isfile(osp.join(data_root, rel)), rel


def test_console_scripts_train_and_test_a_shipped_config_from_another_directory(venv):
    b = venv['bin']
    res = _run(venv, f'{b}/posecls-make-sample-data', '--train-per-class', '2', '--val-per-class', '1')
    assert res.returncode == 0 and osp.isfile(osp.join(venv['work'], 'data/nvidia_sample/train_data.npy')), res.stderr
    res = _run(venv, f'{b}/posecls-train', 'configs/stgcn_nvidia_sample.py', '--cfg-options', 'train_cfg.max_epochs=1',
               'train_dataloader.batch_size=4')
    assert res.returncode == 0, res.stderr[-3000:]
    assert 'Epoch 1/1' in res.stdout
    ckpt = osp.join(venv['work'], 'work_dirs', 'stgcn_nvidia_sample', 'pc_model_latest.pth')
    res = _run(venv, f'{b}/posecls-test', 'posecls::configs/stgcn_nvidia_sample.py', ckpt)
    assert res.returncode == 0 and 'Total accuracy' in res.stdout, res.stderr[-3000:]


def test_shipped_projects_and_specs_resolve(venv):
    res = _run(venv, venv['py'], '-c', 'from posecls.tools.common import load_config; from posecls.graphs import '
               'get_layout; cfg = load_config("configs/nwucla/stgcn_joint.py"); '
               'print(get_layout(cfg.model.backbone.graph_cfg.layout).num_node)')
    assert res.returncode == 0 and res.stdout.split()[-1] == '20', res.stderr[-3000:]  # projects.kinect_v1 imported
    res = _run(venv, f"{venv['bin']}/posecls", 'train', '-e', 'specs/experiment_nvidia.yaml', 'train.num_epochs=0')
    assert res.returncode == 2 and 'train.num_epochs: got 0' in res.stderr  # the shipped spec was read and checked
    res = _run(venv, f"{venv['bin']}/posecls-train", 'posecls::configs/missing.py')
    assert res.returncode == 1 and 'posecls::configs/missing.py: posecls ships no configs/missing.py' in res.stderr
