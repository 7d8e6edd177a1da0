"""Run a local Triton Inference Server: the ``tritonserver`` binary that the nvidia-pytriton wheel ships.

Only the binary and its Python backend are used (not pytriton's Python API, whose tensor transport needs
numpy < 2): the repository is written by :func:`write_triton_repository` with ``platform='python'`` and
posecls's Python-backend model runs onnxruntime or TensorRT inside. The Python backend stub embeds
``libpython3.X.so`` of the running interpreter, so this Python must be built with ``--enable-shared``.
"""
import importlib.util
import os
import os.path as osp
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from typing import Dict, List, Optional

from posecls.utils.network import free_port

PYTRITON_HINT = ('the Triton server binary comes with the nvidia-pytriton wheel: pip install "posecls[triton]" '
                 '(or pip install --no-deps nvidia-pytriton==0.7.0)')


def pytriton_server_dir() -> str:
    """``.../site-packages/pytriton/tritonserver`` (without importing pytriton).

    Raises:
        RuntimeError: nvidia-pytriton is not installed.
    """
    spec = importlib.util.find_spec('pytriton')
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f'nvidia-pytriton is not installed; {PYTRITON_HINT}')
    path = osp.join(list(spec.submodule_search_locations)[0], 'tritonserver')
    if not osp.isfile(osp.join(path, 'bin', 'tritonserver')):
        raise RuntimeError(f'no tritonserver binary under {path}; {PYTRITON_HINT}')
    return path


def _libpython_dir() -> str:
    if not sysconfig.get_config_var('Py_ENABLE_SHARED'):
        raise RuntimeError(f'{sys.executable} is built without --enable-shared: the Triton Python backend stub needs '
                           f'libpython{sys.version_info.major}.{sys.version_info.minor}.so of this interpreter '
                           '(use a shared-library Python, e.g. pyenv with PYTHON_CONFIGURE_OPTS=--enable-shared, '
                           'the system Python or conda)')
    return sysconfig.get_config_var('LIBDIR')


class TritonServer:
    """A tritonserver process on localhost serving ``model_repository``; a context manager.

    Args:
        model_repository: Repository root (from :func:`write_triton_repository`).
        http_port / grpc_port / metrics_port: Ports (0 = pick a free one).
        startup_timeout: Seconds to wait for the server and all models to be ready.
        log_file: Where the server log goes (default: in a temporary workspace).

    Raises on :meth:`start`:
        RuntimeError: binary or shared libpython missing, or the server exited / was not ready in time
            (the end of its log is in the message).
    """

    def __init__(self, model_repository: str, http_port: int = 0, grpc_port: int = 0, metrics_port: int = 0,
                 startup_timeout: float = 120.0, log_file: Optional[str] = None) -> None:
        if not osp.isdir(model_repository):
            raise FileNotFoundError(f'model repository not found: {model_repository}')
        self.model_repository = osp.abspath(model_repository)
        self.http_port = http_port or free_port()
        self.grpc_port = grpc_port or free_port()
        self.metrics_port = metrics_port or free_port()
        self.startup_timeout = startup_timeout
        self.log_file = log_file
        self.process: Optional[subprocess.Popen] = None
        self._workspace: Optional[str] = None

    @property
    def http_url(self) -> str:
        """``localhost:<http port>``."""
        return f'localhost:{self.http_port}'

    @property
    def grpc_url(self) -> str:
        """``localhost:<grpc port>``."""
        return f'localhost:{self.grpc_port}'

    def _prepare(self) -> Dict[str, str]:
        """Backend folder with the stub of this Python, and the server environment."""
        src = pytriton_server_dir()
        ver = f'{sys.version_info.major}.{sys.version_info.minor}'
        stub = osp.join(src, 'python_backend_stubs', ver, 'triton_python_backend_stub')
        if not osp.isfile(stub):
            raise RuntimeError(f'nvidia-pytriton has no Python backend stub for Python {ver} ({stub})')
        libdir = _libpython_dir()
        self._workspace = tempfile.mkdtemp(prefix='posecls_triton_')
        pydir = osp.join(self._workspace, 'backends', 'python')
        os.makedirs(pydir)
        for name in ('libtriton_python.so', 'triton_python_backend_utils.py'):
            shutil.copy(osp.join(src, 'backends', 'python', name), pydir)
        shutil.copy(stub, pydir)
        env = dict(os.environ)
        libs = [libdir, osp.join(osp.dirname(osp.dirname(src)), 'nvidia_pytriton.libs')]
        if env.get('LD_LIBRARY_PATH'):
            libs.append(env['LD_LIBRARY_PATH'])
        env['LD_LIBRARY_PATH'] = os.pathsep.join(libs)
        env['PYTHONHOME'] = sys.base_prefix
        env['PYTHONPATH'] = os.pathsep.join(p or os.getcwd() for p in sys.path)
        return env

    def command(self) -> List[str]:
        """The tritonserver command line."""
        return [osp.join(pytriton_server_dir(), 'bin', 'tritonserver'), f'--model-repository={self.model_repository}',
                f'--backend-directory={osp.join(self._workspace or "", "backends")}',
                f'--http-port={self.http_port}', f'--grpc-port={self.grpc_port}',
                f'--metrics-port={self.metrics_port}', '--disable-auto-complete-config', '--exit-timeout-secs=5',
                '--strict-readiness=true']

    def start(self) -> 'TritonServer':
        """Start the server and wait until it and its models are ready."""
        import tritonclient.http as httpclient

        env = self._prepare()
        self.log_file = self.log_file or osp.join(self._workspace, 'tritonserver.log')
        log = open(self.log_file, 'w')
        self.process = subprocess.Popen(self.command(), env=env, stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        log.close()
        client = httpclient.InferenceServerClient(self.http_url)
        deadline = time.monotonic() + self.startup_timeout
        try:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f'tritonserver exited with code {self.process.returncode}:\n{self.log_tail()}')
                try:
                    if client.is_server_ready():
                        return self
                except Exception:  # noqa: BLE001 - not listening yet
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f'tritonserver not ready after {self.startup_timeout:.0f} s:\n{self.log_tail()}')
                time.sleep(0.2)
        except BaseException:
            self.stop()
            raise
        finally:
            client.close()

    def log_tail(self, lines: int = 30) -> str:
        """Last lines of the server log."""
        if not self.log_file or not osp.isfile(self.log_file):
            return ''
        with open(self.log_file, errors='replace') as f:
            return ''.join(f.readlines()[-lines:])

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the server and its backend stubs (its whole process group); remove the workspace."""
        if self.process is not None and self.process.poll() is None:
            pgid = os.getpgid(self.process.pid)
            os.killpg(pgid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(pgid, signal.SIGKILL)
                self.process.wait(5)
            try:  # stubs left behind in the group
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process = None
        if self._workspace and (self.log_file or '').startswith(self._workspace):
            self.log_file = None
        if self._workspace:
            shutil.rmtree(self._workspace, ignore_errors=True)
            self._workspace = None

    def __enter__(self) -> 'TritonServer':
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
