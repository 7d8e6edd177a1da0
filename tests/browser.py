"""A real headless Chromium driven over the DevTools protocol (``--remote-debugging-pipe``: no port, no extra package).

The browser reads JSON commands from file descriptor 3 and writes replies and events to descriptor 4, each message
ended by a NUL byte (what Puppeteer's ``pipe: true`` uses). :class:`Chromium` opens one page, records every console
message, uncaught exception, log entry and network request, evaluates JavaScript, clicks and takes screenshots.
"""
import base64
import fcntl
import io
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from typing import Any, Dict, List, Optional

CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser') or (
    '/usr/bin/chromium' if os.path.exists('/usr/bin/chromium') else None)

#: the flags this sandbox needs (root, no GPU, no network chatter)
FLAGS = ('--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync',
         '--disable-default-apps', '--disable-extensions', '--mute-audio', '--hide-scrollbars')


def _high(*fds: int) -> List[int]:
    """The same pipe ends at descriptors >= 10 (never 3 or 4, which the child's redirections overwrite)."""
    out = []
    for fd in fds:
        out.append(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10))
        os.close(fd)
    return out


class Chromium:
    """One headless Chromium with one page.

    Args:
        width, height: Viewport in CSS pixels.
        timeout: Seconds to wait for any reply.
    """

    def __init__(self, width: int = 1280, height: int = 900, timeout: float = 60.0) -> None:
        if CHROMIUM is None:
            raise FileNotFoundError('chromium not found (Debian: apt-get install -y --no-install-recommends chromium)')
        self.timeout = timeout
        self.events: List[Dict[str, Any]] = []
        self._profile = tempfile.mkdtemp(prefix='posecls-chromium-')
        to_child_r, self._to_child = _high(*os.pipe())
        self._from_child, from_child_w = _high(*os.pipe())
        # bash moves our pipe ends to the child's fd 3 (commands in) and fd 4 (messages out), then runs chromium
        redirect = f'exec "$0" "$@" 3<&{to_child_r} 4>&{from_child_w} {to_child_r}<&- {from_child_w}>&-'
        self.proc = subprocess.Popen(
            ['bash', '-c', redirect, CHROMIUM, *FLAGS, '--remote-debugging-pipe', f'--user-data-dir={self._profile}',
             f'--window-size={width},{height}', 'about:blank'],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(to_child_r, from_child_w))
        os.close(to_child_r)
        os.close(from_child_w)
        self._buf = b''
        self._next_id = 0
        self.session: Optional[str] = None
        target = self.send('Target.createTarget', url='about:blank')['targetId']
        self.session = self.send('Target.attachToTarget', targetId=target, flatten=True)['sessionId']
        for domain in ('Page', 'Runtime', 'Log', 'Network'):
            self.send(f'{domain}.enable')
        self.send('Emulation.setDeviceMetricsOverride', width=width, height=height, deviceScaleFactor=1, mobile=False)

    # -- protocol -------------------------------------------------------------------------------------------------
    def _read(self, deadline: float) -> Dict[str, Any]:
        while b'\0' not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f'chromium did not answer within {self.timeout} s')
            ready, _, _ = select.select([self._from_child], [], [], left)
            if ready:
                chunk = os.read(self._from_child, 1 << 20)
                if not chunk:
                    raise RuntimeError(f'chromium closed the DevTools pipe (exit code {self.proc.poll()})')
                self._buf += chunk
        raw, self._buf = self._buf.split(b'\0', 1)
        return json.loads(raw)

    def send(self, method: str, **params: Any) -> Dict[str, Any]:
        """Send a command; returns its result (events that arrive meanwhile go to ``self.events``)."""
        self._next_id += 1
        msg: Dict[str, Any] = dict(id=self._next_id, method=method, params=params)
        if self.session and not method.startswith('Target.'):
            msg['sessionId'] = self.session
        os.write(self._to_child, json.dumps(msg).encode() + b'\0')
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read(deadline)
            if reply.get('id') == self._next_id:
                if 'error' in reply:
                    raise RuntimeError(f'{method}: {reply["error"]}')
                return reply.get('result', {})
            if 'method' in reply:
                self.events.append(reply)

    def pump(self, seconds: float) -> None:
        """Collect events for ``seconds``."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                self.events.append(self._read(deadline))
            except TimeoutError:
                return

    # -- page -----------------------------------------------------------------------------------------------------
    def open(self, url: str, settle: float = 1.0) -> None:
        """Navigate and wait for the load event, then ``settle`` seconds more."""
        self.send('Page.navigate', url=url)
        deadline = time.monotonic() + self.timeout
        while not any(e.get('method') == 'Page.loadEventFired' for e in self.events):
            self.events.append(self._read(deadline))
        self.pump(settle)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (promises awaited); raises on a JavaScript exception."""
        res = self.send('Runtime.evaluate', expression=expression, returnByValue=True, awaitPromise=True)
        if 'exceptionDetails' in res:
            raise RuntimeError(f'JavaScript error in {expression!r}: {res["exceptionDetails"]}')
        return res['result'].get('value')

    def click(self, x: float, y: float) -> None:
        """A real left click at viewport coordinates (mouse moved, pressed, released)."""
        self.send('Input.dispatchMouseEvent', type='mouseMoved', x=x, y=y)
        for kind in ('mousePressed', 'mouseReleased'):
            self.send('Input.dispatchMouseEvent', type=kind, x=x, y=y, button='left', clickCount=1)

    def screenshot(self, clip: Optional[Dict[str, float]] = None):
        """The viewport (or ``clip`` = dict(x, y, width, height) in page coordinates) as an (H, W, C) float array."""
        import matplotlib.image as mpimg
        params: Dict[str, Any] = dict(format='png')
        if clip is not None:
            params['clip'] = dict(clip, scale=1)
            params['captureBeyondViewport'] = True
        png = base64.b64decode(self.send('Page.captureScreenshot', **params)['data'])
        return mpimg.imread(io.BytesIO(png), format='png')

    # -- what happened --------------------------------------------------------------------------------------------
    def errors(self) -> List[str]:
        """Console errors, uncaught exceptions and error log entries, as text."""
        out = []
        for e in self.events:
            p = e.get('params', {})
            if e.get('method') == 'Runtime.consoleAPICalled' and p.get('type') in ('error', 'assert'):
                out.append('console.error: ' + ' '.join(str(a.get('value', a.get('description')))
                                                        for a in p.get('args', [])))
            elif e.get('method') == 'Runtime.exceptionThrown':
                d = p.get('exceptionDetails', {})
                out.append('exception: ' + str(d.get('exception', {}).get('description') or d.get('text')))
            elif e.get('method') == 'Log.entryAdded' and p.get('entry', {}).get('level') == 'error':
                out.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}")
        return out

    def requests(self) -> List[str]:
        """URLs of every network request the page made."""
        return [e['params']['request']['url'] for e in self.events if e.get('method') == 'Network.requestWillBeSent']

    def close(self) -> None:
        """End the browser and remove its profile."""
        try:
            self.send('Browser.close')
        except Exception:  # noqa: BLE001 - it may already be gone
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._to_child, self._from_child):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> 'Chromium':
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
