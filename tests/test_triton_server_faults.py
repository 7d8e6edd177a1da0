"""The local Triton server under faults, with the real tritonserver of nvidia-pytriton (no mocks).

Non-finite requests are refused one by one inside a dynamic batch; the served model imports from the venv /
PYTHONPATH of the Python that starts the server; a crashed server is cleaned up by stop().
"""
import glob
import importlib.util
import json
import os
import os.path as osp
import signal
import site
import subprocess
import sys
import sysconfig
import textwrap
import time

import numpy as np
import pytest

from _deploy_fixtures import TINY_SHAPE

HAS_SERVER = all(importlib.util.find_spec(m) is not None for m in ('tritonclient', 'pytriton', 'onnxruntime')) and \
    bool(sysconfig.get_config_var('Py_ENABLE_SHARED'))
pytestmark = pytest.mark.skipif(not HAS_SERVER, reason='needs tritonclient, nvidia-pytriton, onnxruntime and a '
                                'shared-libpython Python')

MODEL = 'pose_classification_tao'
QUEUE_DELAY_US = 300_000  # requests sent together wait for each other: one execute() call (checked)


def _ort_logits(onnx_file, x):
    import onnxruntime as ort
    return ort.InferenceSession(onnx_file, providers=['CPUExecutionProvider']).run(None, {'input': x})[0]


def _inputs(x):
    import tritonclient.http as httpclient
    inp = httpclient.InferInput('input', list(x.shape), 'FP32')
    inp.set_data_from_numpy(x)
    return [inp]


def _group_members(pgid):
    """Pids of the live (not zombie) processes of process group ``pgid``."""
    pids = []
    for stat in glob.glob('/proc/[0-9]*/stat'):
        try:
            with open(stat) as f:
                fields = f.read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        if fields[0] != 'Z' and int(fields[2]) == pgid:
            pids.append(int(stat.split('/')[2]))
    return pids


@pytest.fixture(scope='module')
def batching_server(tiny_deploy, tmp_path_factory):
    """A tritonserver serving the tiny ONNX model whose dynamic batcher waits 0.3 s for more requests."""
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    from posecls.deploy.triton.serve import TritonServer
    from posecls.deploy.triton.triton_repo import write_triton_repository
    repo = str(tmp_path_factory.mktemp('batching_repo'))
    res = write_triton_repository(tiny_deploy['onnx'], repo, platform='python')
    path = osp.join(res['model_dir'], 'config.pbtxt')
    with open(path) as f:
        cfg = text_format.Parse(f.read(), model_config_pb2.ModelConfig())
    cfg.dynamic_batching.max_queue_delay_microseconds = QUEUE_DELAY_US
    with open(path, 'w') as f:
        f.write(text_format.MessageToString(cfg))
    server = TritonServer(repo, startup_timeout=60).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def client(batching_server):
    import tritonclient.http as httpclient
    c = httpclient.InferenceServerClient(batching_server.http_url, concurrency=8)
    yield c
    c.close()  # an open connection would hold the server's shutdown for its whole exit timeout


def test_nan_request_refused_then_next_request_served(client, tiny_deploy):
    from tritonclient.utils import InferenceServerException
    x = np.random.default_rng(1).standard_normal((3, ) + TINY_SHAPE).astype(np.float32)
    bad = x.copy()
    bad[1, 2, 7, 3, 0] = np.nan
    with pytest.raises(InferenceServerException) as info:
        client.infer(MODEL, _inputs(bad))
    msg = info.value.message()
    assert info.value.status() == '400', msg
    assert "model 'pose_classification_tao'" in msg and "input 'input'" in msg
    assert 'sample 1 holds NaN or infinite values' in msg and 'refusing to classify' in msg
    # no class came out for it, and the server is unharmed: the next request is answered correctly
    out = client.infer(MODEL, _inputs(x)).as_numpy('fc_pred')
    np.testing.assert_allclose(out, _ort_logits(tiny_deploy['onnx'], x), rtol=1e-5, atol=1e-5)


def test_non_finite_requests_refused_alone_in_one_dynamic_batch(client, tiny_deploy):
    from tritonclient.utils import InferenceServerException
    rng = np.random.default_rng(2)
    xs = [rng.standard_normal((n, ) + TINY_SHAPE).astype(np.float32) for n in (2, 2, 1, 3, 2)]
    xs[1][0, 0, 5, 10, 0] = np.inf
    xs[3][2, 1, 3, 0, 0] = np.nan
    xs[3][1, 0, 0, 0, 0] = -np.inf
    stats = lambda: client.get_inference_statistics(MODEL)['model_stats'][0]  # noqa: E731
    executions = stats()['execution_count']
    handles = [client.async_infer(MODEL, _inputs(x), request_id=f'req{k}') for k, x in enumerate(xs)]
    results = []
    for h in handles:
        try:
            results.append(h.get_result().as_numpy('fc_pred'))
        except InferenceServerException as e:
            results.append(e)
    assert stats()['execution_count'] == executions + 1, 'the five requests were not batched into one execute()'
    for k in (0, 2, 4):
        np.testing.assert_allclose(results[k], _ort_logits(tiny_deploy['onnx'], xs[k]), rtol=1e-5, atol=1e-5)
    for k, first, more in ((1, 0, ''), (3, 1, ' (2 samples: [1, 2])')):
        assert isinstance(results[k], InferenceServerException), results[k]
        assert results[k].status() == '400'
        assert f"request 'req{k}', input 'input': sample {first} holds NaN or infinite values{more}" in \
            results[k].message()


def test_second_start_is_refused_and_server_keeps_running(batching_server, client):
    with pytest.raises(RuntimeError, match=r'already running on 127\.0\.0\.1:\d+; stop\(\) it first'):
        batching_server.start()
    assert batching_server.process is not None and client.is_model_ready(MODEL)


def test_stop_after_server_crash_cleans_up(batching_server):
    """Last test of the module: it kills the module's server (the fixture's stop() is then a no-op)."""
    server = batching_server
    pgid, workspace, prefix = server.process.pid, server._workspace, server._shm_prefix
    regions = glob.glob(osp.join('/dev/shm', glob.escape(prefix) + '*'))
    assert regions, f'no Python-backend shared memory named {prefix}* in /dev/shm'
    stubs = [p for p in _group_members(pgid) if p != pgid]
    assert stubs, 'no Python-backend stub in the server process group'
    os.kill(pgid, signal.SIGKILL)  # tritonserver dies without unloading: stubs and /dev/shm regions stay behind
    server.process.wait(10)
    server.stop()
    assert server.process is None and server._workspace is None and not osp.exists(workspace)
    assert not glob.glob(osp.join('/dev/shm', glob.escape(prefix) + '*'))
    deadline = time.monotonic() + 10
    while _group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _group_members(pgid)
    server.stop()  # idempotent


# ---------------------------------------------------------------- venv layouts of the Python-backend stub

SNIPPET = '''
import json, os, sys
import numpy as np
import posecls
import tritonclient.http as httpclient
from posecls.deploy.triton.serve import TritonServer
from posecls.deploy.triton.triton_repo import write_triton_repository

onnx_file, x_file, repo, out_file = sys.argv[1:5]
write_triton_repository(onnx_file, repo, platform='python')
x = np.load(x_file)
with TritonServer(repo, startup_timeout=60) as server:
    client = httpclient.InferenceServerClient(server.http_url)
    try:
        inp = httpclient.InferInput('input', list(x.shape), 'FP32')
        inp.set_data_from_numpy(x)
        logits = client.infer('pose_classification_tao', [inp]).as_numpy('fc_pred')
    finally:
        client.close()
with open(out_file, 'w') as f:
    json.dump(dict(pid=os.getpid(), prefix=sys.prefix, posecls=posecls.__file__, logits=logits.tolist()), f)
'''


def _overlay(root, log):
    """A posecls package that exists only in ``root``: the repository's modules, logging each importing pid."""
    pkg = osp.join(root, 'posecls')
    os.makedirs(pkg)
    real = osp.dirname(importlib.util.find_spec('posecls').origin)
    with open(osp.join(pkg, '__init__.py'), 'w') as f:
        f.write(textwrap.dedent(f'''\
            """posecls installed only in this test environment (the repository's modules; logs importers)."""
            import os
            __path__[:] = [{real!r}]
            with open({log!r}, 'a') as f:
                f.write(f'{{os.getpid()}}\\n')
            from .version import __version__  # noqa: E402,F401
            '''))
    return root


@pytest.mark.parametrize('layout', ['system-site-packages', pytest.param('pythonpath', marks=pytest.mark.slow)])
def test_stub_imports_from_the_starting_venv(layout, tiny_deploy, tmp_path):
    """posecls is importable only from the venv (a .pth file) or from PYTHONPATH; the stub must import that one."""
    log = str(tmp_path / 'imported_by.txt')
    overlay = _overlay(str(tmp_path / 'overlay'), log)
    venv_dir = tmp_path / 'venv'
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'PYTHONHOME', 'VIRTUAL_ENV')}
    if layout == 'system-site-packages':
        subprocess.run([sys.executable, '-m', 'venv', '--without-pip', '--system-site-packages', str(venv_dir)],
                       check=True)
        python = str(venv_dir / 'bin' / 'python')
        purelib = subprocess.run([python, '-c', 'import sysconfig; print(sysconfig.get_path("purelib"))'],
                                 check=True, capture_output=True, text=True).stdout.strip()
        with open(osp.join(purelib, 'posecls_overlay.pth'), 'w') as f:
            f.write(overlay + '\n')
    else:  # a bare venv; everything else comes from PYTHONPATH set by the user
        subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(venv_dir)], check=True)
        python = str(venv_dir / 'bin' / 'python')
        env['PYTHONPATH'] = os.pathsep.join([overlay] + site.getsitepackages())
    x = np.random.default_rng(3).standard_normal((2, ) + TINY_SHAPE).astype(np.float32)
    np.save(tmp_path / 'x.npy', x)
    (tmp_path / 'snippet.py').write_text(SNIPPET)
    out = tmp_path / 'out.json'
    proc = subprocess.run([python, str(tmp_path / 'snippet.py'), tiny_deploy['onnx'], str(tmp_path / 'x.npy'),
                           str(tmp_path / 'repo'), str(out)], cwd=str(tmp_path), env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    res = json.loads(out.read_text())
    assert res['prefix'] == str(venv_dir) and res['posecls'].startswith(overlay)
    importers = [int(p) for p in open(log).read().split()]
    assert res['pid'] in importers
    assert [p for p in importers if p != res['pid']], 'the served model did not import posecls from the venv'
    np.testing.assert_allclose(np.array(res['logits'], np.float32), _ort_logits(tiny_deploy['onnx'], x),
                               rtol=1e-5, atol=1e-5)
