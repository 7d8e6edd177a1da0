"""Run a local Triton Inference Server: the ``tritonserver`` binary that the nvidia-pytriton wheel ships.

Only the binary and its Python backend are used (not pytriton's Python API, whose tensor transport needs
numpy < 2): the repository is written by :func:`write_triton_repository` with ``platform='python'`` and
posecls's Python-backend model runs onnxruntime or TensorRT inside. The Python backend stub embeds
``libpython3.X.so`` of the running interpreter, so this Python must be built with ``--enable-shared``.

The stub's embedded interpreter runs isolated (measured with nvidia-pytriton 0.7.0: ``sys.flags.isolated == 1``):
it ignores ``PYTHONPATH``/``PYTHONHOME`` and knows only the base installation that holds libpython, not a venv.
:class:`TritonServer` therefore hands the ``sys.path`` and site directories of the Python that starts it to the
stub in the environment variable :data:`STUB_PATH_ENV`; posecls's python_model.py applies them before its first
import, so the served model imports what this Python imports, in any venv layout.
"""
import glob
import importlib.util
import ipaddress
import json
import os
import os.path as osp
import shutil
import signal
import site
import subprocess
import sys
import sysconfig
import tempfile
import time
from typing import Dict, List, Optional

from posecls.utils.network import free_port

PYTRITON_HINT = ('the Triton server binary comes with the nvidia-pytriton wheel: pip install "posecls[triton]" && '
                 'pip install --no-deps nvidia-pytriton==0.7.0 (--no-deps: its metadata pins numpy<2)')

#: Environment variable that carries ``{"path": sys.path, "site": [site dirs]}`` of the starting Python to the
#: stub; read by python_model.py (same name there: it runs before posecls is importable).
STUB_PATH_ENV = 'POSECLS_TRITON_STUB_PYTHON'


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


def _site_dirs() -> List[str]:
    """Site directories of this Python that are on ``sys.path`` (venv, system, user), in ``sys.path`` order."""
    dirs = list(site.getsitepackages()) if hasattr(site, 'getsitepackages') else []
    if site.ENABLE_USER_SITE:
        dirs.append(site.getusersitepackages())
    dirs = {osp.abspath(d) for d in dirs}
    return [p for p in (osp.abspath(p or os.getcwd()) for p in sys.path) if p in dirs]


class TritonServer:
    """A tritonserver process serving ``model_repository`` on ``host``; a context manager.

    Args:
        model_repository: Repository root (from :func:`write_triton_repository`).
        http_port / grpc_port / metrics_port: Ports (0 = pick a free one).
        host: IPv4 address that the HTTP, gRPC and metrics endpoints bind to. The default ``127.0.0.1`` serves
            this machine only; ``0.0.0.0`` serves every interface: anyone who can reach the machine can run
            inference, read the model configuration, statistics and metrics (there is no authentication).
        startup_timeout: Seconds to wait for the server and all models to be ready.
        log_file: Where the server log goes (default: in a temporary workspace, removed by :meth:`stop`).

    Raises:
        FileNotFoundError: ``model_repository`` is not a folder.
        ValueError: ``host`` is not an IPv4 address, a port is outside 0..65535, two ports are equal, or
            ``startup_timeout`` is not positive.

    Raises on :meth:`start`:
        RuntimeError: binary or shared libpython missing, the server already running, or the server exited /
            was not ready in time (the end of its log is in the message). The server is stopped and the
            workspace removed before the error propagates.
    """

    def __init__(self, model_repository: str, http_port: int = 0, grpc_port: int = 0, metrics_port: int = 0,
                 startup_timeout: float = 120.0, log_file: Optional[str] = None, host: str = '127.0.0.1') -> None:
        if not osp.isdir(model_repository):
            raise FileNotFoundError(f'model repository not found: {model_repository}')
        try:
            if not isinstance(host, str):
                raise ValueError(host)
            ipaddress.IPv4Address(host)
        except ValueError:  # IPv6: this tritonserver's HTTP and metrics endpoints do not listen on it (measured)
            raise ValueError(f'host must be an IPv4 address to bind to (127.0.0.1: this machine only, 0.0.0.0: '
                             f'every interface), got {host!r}') from None
        ports = dict(http_port=http_port, grpc_port=grpc_port, metrics_port=metrics_port)
        for name, port in ports.items():
            if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
                raise ValueError(f'{name} must be an int in 0..65535 (0: a free port), got {port!r}')
        given = [p for p in ports.values() if p]
        if len(set(given)) != len(given):
            raise ValueError(f'the HTTP, gRPC and metrics ports must differ, got {ports}')
        if not isinstance(startup_timeout, (int, float)) or not startup_timeout > 0:
            raise ValueError(f'startup_timeout must be a positive number of seconds, got {startup_timeout!r}')
        for name in ports:
            while not ports[name]:
                port = free_port()
                ports[name] = port if port not in ports.values() else 0
        self.model_repository = osp.abspath(model_repository)
        self.host = host
        self.http_port = ports['http_port']
        self.grpc_port = ports['grpc_port']
        self.metrics_port = ports['metrics_port']
        self.startup_timeout = startup_timeout
        self.log_file = log_file
        self.process: Optional[subprocess.Popen] = None
        self._workspace: Optional[str] = None

    @property
    def http_url(self) -> str:
        """``<host>:<http port>`` (the address the server binds)."""
        return f'{self.host}:{self.http_port}'

    @property
    def grpc_url(self) -> str:
        """``<host>:<grpc port>``."""
        return f'{self.host}:{self.grpc_port}'

    @property
    def metrics_url(self) -> str:
        """``<host>:<metrics port>`` (Prometheus text at ``http://<metrics_url>/metrics``)."""
        return f'{self.host}:{self.metrics_port}'

    @property
    def _shm_prefix(self) -> str:
        """Prefix of the Python backend's shared-memory regions in /dev/shm (unique to this workspace)."""
        return f'{osp.basename(self._workspace or "posecls_triton")}_shm_'

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
        # ignored by the isolated stub of nvidia-pytriton 0.7.0 (STUB_PATH_ENV does the work); kept for stubs
        # built to read the environment
        env['PYTHONHOME'] = sys.base_prefix
        path = [osp.abspath(p or os.getcwd()) for p in sys.path]
        env['PYTHONPATH'] = os.pathsep.join(path)
        env[STUB_PATH_ENV] = json.dumps(dict(path=path, site=_site_dirs()))
        return env

    def command(self) -> List[str]:
        """The tritonserver command line."""
        return [osp.join(pytriton_server_dir(), 'bin', 'tritonserver'), f'--model-repository={self.model_repository}',
                f'--backend-directory={osp.join(self._workspace or "", "backends")}',
                f'--backend-config=python,shm-region-prefix-name={self._shm_prefix}',
                f'--http-address={self.host}', f'--http-port={self.http_port}',
                f'--grpc-address={self.host}', f'--grpc-port={self.grpc_port}',
                f'--metrics-address={self.host}', f'--metrics-port={self.metrics_port}',
                '--allow-sagemaker=false', '--allow-vertex-ai=false',
                '--disable-auto-complete-config', '--exit-timeout-secs=5', '--strict-readiness=true']

    def start(self) -> 'TritonServer':
        """Start the server and wait until it and its models are ready.

        Returns:
            This server.

        Raises:
            RuntimeError: see the class docstring; nothing is left running or on disk (except a given
                ``log_file``) when it is raised.
        """
        import tritonclient.http as httpclient

        if self.process is not None and self.process.poll() is None:
            raise RuntimeError(f'tritonserver (pid {self.process.pid}) is already running on {self.http_url}; '
                               'stop() it first')
        self.stop()  # what a server that exited by itself left behind
        client = None
        try:
            env = self._prepare()
            self.log_file = self.log_file or osp.join(self._workspace, 'tritonserver.log')
            cmd = self.command()
            with open(self.log_file, 'w') as log:
                try:
                    self.process = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                                    start_new_session=True)
                except OSError as e:
                    raise RuntimeError(f'cannot run {cmd[0]}: {e}') from e
            client = httpclient.InferenceServerClient(self.http_url)
            deadline = time.monotonic() + self.startup_timeout
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f'tritonserver exited with code {self.process.returncode} (repository '
                                       f'{self.model_repository}):\n{self.log_tail()}')
                try:
                    if client.is_server_ready():
                        return self
                except Exception:  # noqa: BLE001 - not listening yet
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f'tritonserver not ready after {self.startup_timeout:.0f} s (repository '
                                       f'{self.model_repository}):\n{self.log_tail()}')
                time.sleep(0.2)
        except BaseException:
            self.stop()
            raise
        finally:
            if client is not None:
                client.close()

    def log_tail(self, lines: int = 30) -> str:
        """Last lines of the server log."""
        if not self.log_file or not osp.isfile(self.log_file):
            return ''
        with open(self.log_file, errors='replace') as f:
            return ''.join(f.readlines()[-lines:])

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the server and its backend stubs (its whole process group); remove the workspace.

        Safe to call more than once, and after the server exited by itself (stubs left behind are killed and
        the Python backend's shared-memory regions removed).
        """
        process = self.process
        if process is not None:
            pgid = process.pid  # start_new_session: the server leads its own process group
            try:
                if process.poll() is None:
                    os.killpg(pgid, signal.SIGTERM)
                    process.wait(timeout)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                pass
            finally:  # whatever is left of the group (the server after the timeout, stubs), also on Ctrl-C
                try:
                    os.killpg(pgid, signal.SIGKILL)
                except OSError:  # the group is gone
                    pass
                try:
                    process.wait(5)
                except subprocess.TimeoutExpired:
                    pass
                self.process = None
        if self._workspace:
            for region in glob.glob(osp.join('/dev/shm', glob.escape(self._shm_prefix) + '*')):
                try:  # left when the server exits without unloading its models (exit timeout, crash)
                    os.unlink(region)
                except OSError:
                    pass
            if (self.log_file or '').startswith(self._workspace + os.sep):
                self.log_file = None
            shutil.rmtree(self._workspace, ignore_errors=True)
            self._workspace = None

    def __enter__(self) -> 'TritonServer':
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
