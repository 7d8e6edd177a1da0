"""What a person sees at the command line: a quiet progress display, the full log behind --verbose, and one
clear line (file, field, value) for an ordinary error, with a traceback only when asked for."""
import os
import os.path as osp
import subprocess
import sys

import pytest

from conftest import REPO


def _tool(name, *args, env=None):
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, osp.join(REPO, 'tools', name), *args], capture_output=True, text=True,
                          timeout=300, env=full_env)


@pytest.fixture(scope='module')
def trained_tool_run(tiny_data_dir, tmp_path_factory):
    from conftest import tiny_config
    root = tmp_path_factory.mktemp('cli')
    cfg = tiny_config(tiny_data_dir, str(root / 'work'))
    cfg_file = str(root / 'cfg.py')
    cfg.dump(cfg_file)
    res = _tool('train.py', cfg_file)
    return cfg_file, str(root / 'work'), res


def test_training_is_quiet_with_progress_and_a_full_log_file(trained_tool_run):
    _, work, res = trained_tool_run
    assert res.returncode == 0, res.stderr[-2000:]
    out = res.stdout
    assert 'Epoch 1/2  loss ' in out and 'Epoch 2/2  loss ' in out and '  validation  acc/top1 ' in out
    assert 'Training done in ' in out
    assert 'Config:' not in out and 'System environment' not in out and 'Hooks will be executed' not in out
    assert len(out.splitlines()) < 12
    logs = [osp.join(r, f) for r, _, fs in os.walk(work) for f in fs if f.endswith('.log')]
    log = open(logs[0]).read()
    assert 'Config:' in log and 'System environment' in log and 'Epoch(train)' in log  # the file has everything


def test_verbose_shows_mmengines_log(trained_tool_run, tmp_path):
    cfg_file, _, _ = trained_tool_run
    res = _tool('train.py', cfg_file, '--work-dir', str(tmp_path / 'v'), '--verbose', '--cfg-options',
                'train_cfg.max_epochs=1')
    assert res.returncode == 0
    assert 'Config:' in res.stdout and 'Epoch(train)' in res.stdout and 'Epoch 1/1  loss' not in res.stdout


@pytest.mark.parametrize('case', ['missing checkpoint', 'width mismatch', 'cfg-option typo'])
def test_an_ordinary_error_is_one_clear_line(trained_tool_run, tmp_path, case):
    cfg_file, work, _ = trained_tool_run
    ckpt = osp.join(work, 'pc_model_latest.pth')
    args = {'missing checkpoint': [cfg_file, str(tmp_path / 'nope.pth')],
            'width mismatch': [cfg_file, ckpt, '--cfg-options', 'model.backbone.base_channels=8',
                               'model.cls_head.in_channels=32'],
            'cfg-option typo': [cfg_file, ckpt, '--cfg-options', 'test_dataloder.batch_size=2']}[case]
    expected = {'missing checkpoint': f'tools/test.py: error: checkpoint not found: {tmp_path / "nope.pth"}',
                'width mismatch': 'does not fit the model: backbone.st_gcn_networks.0.gcn.conv.weight: checkpoint '
                                  '(12, 3, 1, 1) vs model (24, 3, 1, 1)',
                'cfg-option typo': "the config has no top-level key 'test_dataloder'; did you mean 'test_dataloader'"
                }[case]
    res = _tool('test.py', *args, '--work-dir', str(tmp_path / 't'))
    assert res.returncode == 1
    assert 'Traceback' not in res.stderr and expected in res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith('tools/test.py:')]
    assert len(lines) == 2 and lines[1] == 'tools/test.py: (run with --verbose or POSECLS_DEBUG=1 for the traceback)'
    debug = _tool('test.py', *args, '--work-dir', str(tmp_path / 't'), env={'POSECLS_DEBUG': '1'})
    assert debug.returncode == 1 and 'Traceback (most recent call last)' in debug.stderr


def test_a_bug_keeps_its_traceback():
    from posecls.tools.cli import run_tool

    def buggy(argv):
        raise AttributeError('a bug')
    with pytest.raises(AttributeError):
        run_tool(buggy, [], prog='x')
    assert run_tool(lambda argv: (_ for _ in ()).throw(FileNotFoundError('data file not found: x.npy')), [],
                    prog='x') == 1


def test_tensorboard_flag(trained_tool_run, tmp_path):
    cfg_file, _, _ = trained_tool_run
    work = tmp_path / 'tb'
    res = _tool('train.py', cfg_file, '--work-dir', str(work), '--tensorboard', '--cfg-options',
                'train_cfg.max_epochs=1')
    assert res.returncode == 0, res.stderr[-2000:]
    assert [f for _, _, fs in os.walk(work) for f in fs if f.startswith('events.out.tfevents')]


def test_opencv_stand_in_names_what_to_install():
    """mmengine imports cv2 at module level; posecls (on mmengine-lite) never calls it."""
    from posecls._opencv_stub import HINT, _MissingOpenCV
    cv2 = _MissingOpenCV('cv2', HINT)
    with pytest.raises(ImportError, match='pip install opencv-python-headless'):
        cv2.imwrite('x.png', None)
    with pytest.raises(ImportError):
        cv2.__version__  # mmengine's collect_env reads it inside `except ImportError`
    with pytest.raises(AttributeError):
        cv2.__path__  # the import machinery's probes stay AttributeErrors
    import importlib.util
    import sys as _sys
    if importlib.util.find_spec('cv2') is None or getattr(_sys.modules.get('cv2'), 'posecls_stub', False):
        from mmengine.runner import Runner  # noqa: F401  -- imports mmengine.visualization (import cv2)
        assert _sys.modules['cv2'].posecls_stub


def test_posecls_command_dispatches_the_tools(trained_tool_run, tmp_path, capsys):
    """``posecls <tool> ARGS`` is ``posecls-<tool> ARGS`` for every tool that is not a TAO task."""
    from posecls.tao.cli import main, tool_command
    assert tool_command(['test']) == 'test' and tool_command(['make-sample-data']) == 'make_sample_data'
    assert tool_command(['train']) is None and tool_command(['evaluate']) is None  # the TAO tasks keep their spec form
    cfg_file, work, _ = trained_tool_run
    assert main(['test', cfg_file, osp.join(work, 'pc_model_latest.pth'), '--work-dir', str(tmp_path / 't')]) == 0
    assert 'Total accuracy' in capsys.readouterr().out
    assert main(['test', cfg_file, str(tmp_path / 'missing.pth')]) == 1
    assert 'posecls test: error: checkpoint not found' in capsys.readouterr().err
