"""A local MQTT broker (Eclipse mosquitto) on 127.0.0.1, for the tests, the benchmark and demos.

``LocalBroker().start()`` runs the ``mosquitto`` binary (Debian: ``apt-get install mosquitto``) with a minimal
config (one listener on 127.0.0.1 and a free port, anonymous clients, every event in a log file). ``stop()``
then ``start()`` restart it on the same port, as a broker restart looks to clients.
"""
import getpass
import os
import os.path as osp
import shutil
import subprocess
import tempfile
import time
from typing import Optional

from posecls.utils.network import free_port

#: where Debian installs the broker (not on a normal user's PATH)
DEBIAN_MOSQUITTO = '/usr/sbin/mosquitto'


def mosquitto_binary() -> Optional[str]:
    """Path of the mosquitto binary, or None."""
    found = shutil.which('mosquitto')
    if found:
        return found
    return DEBIAN_MOSQUITTO if os.access(DEBIAN_MOSQUITTO, os.X_OK) else None


class LocalBroker:
    """mosquitto on 127.0.0.1.

    Args:
        port: TCP port (0: a free one, chosen once and kept across restarts).
        workdir: Folder of its config and log (default: a new temporary folder).

    Attributes:
        port: The port.
        log_path: Its log (every event: connections, subscriptions, messages).
    """

    def __init__(self, port: int = 0, workdir: Optional[str] = None) -> None:
        binary = mosquitto_binary()
        if binary is None:
            raise RuntimeError('mosquitto is not installed (Debian/Ubuntu: apt-get install mosquitto)')
        self.binary = binary
        self.port = port or free_port()
        self.workdir = workdir or tempfile.mkdtemp(prefix='posecls-mosquitto-')
        self.config_path = osp.join(self.workdir, 'mosquitto.conf')
        self.log_path = osp.join(self.workdir, 'mosquitto.log')
        with open(self.config_path, 'w') as f:
            # run as the current user (root stays root instead of switching to "mosquitto", who could not write
            # the log here); the log file is written line by line (stdout would be block-buffered)
            f.write(f'listener {self.port} 127.0.0.1\nallow_anonymous true\nuser {getpass.getuser()}\n'
                    f'log_dest file {self.log_path}\nlog_type all\nmax_queued_messages 10000\n')
        self.process: Optional[subprocess.Popen] = None
        self._log = None

    @property
    def url(self) -> str:
        """``mqtt://127.0.0.1:<port>``; add ``/<topic>``."""
        return f'mqtt://127.0.0.1:{self.port}'

    def start(self, timeout: float = 10.0) -> 'LocalBroker':
        """Start it and wait until it listens.

        Raises:
            RuntimeError: it exited or did not listen within ``timeout`` seconds (its log is in the message).
        """
        if self.process is not None:
            raise RuntimeError(f'mosquitto is already running on port {self.port}')
        self._log = open(osp.join(self.workdir, 'mosquitto.out'), 'a')  # its own stdout/stderr (start-up errors)
        self.process = subprocess.Popen([self.binary, '-c', self.config_path], stdout=self._log,
                                        stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if self._listening():
                return self
            time.sleep(0.05)
        tail = self.log_tail()
        with open(osp.join(self.workdir, 'mosquitto.out'), errors='replace') as f:
            tail += ' | ' + ' | '.join(f.read().splitlines()[-10:])
        self.stop()
        raise RuntimeError(f'mosquitto did not start on 127.0.0.1:{self.port}: {tail}')

    def _listening(self) -> bool:
        import socket
        with socket.socket() as s:
            s.settimeout(0.2)
            return s.connect_ex(('127.0.0.1', self.port)) == 0

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of its log."""
        if not osp.isfile(self.log_path):
            return ''
        with open(self.log_path, errors='replace') as f:
            return ' | '.join(f.read().splitlines()[-lines:])

    def log_count(self, text: str) -> int:
        """How many log lines contain ``text``."""
        if not osp.isfile(self.log_path):
            return 0
        with open(self.log_path, errors='replace') as f:
            return sum(text in line for line in f)

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate it (SIGTERM, then SIGKILL after ``timeout``)."""
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> 'LocalBroker':
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
