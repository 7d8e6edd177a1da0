"""Where live messages come from: a DeepStream JSON file (optionally followed while it is written), stdin, MQTT.

Every source cuts its input into :class:`~posecls.streaming.messages.Message` objects (one batch element each)
and hands them to ``put`` from its own thread; the engine parses and classifies them. A source never stops on
bad input: text it cannot cut into elements is reported with its position, counted in :attr:`Source.malformed`
and skipped.

* :class:`FileSource`: the JSON array written by ``deepstream-pose-estimation-app --save-pose FILE``. Elements
  are cut with dataset_convert's bracket scan (:func:`~posecls.datasets.deepstream.jsonscan.bracket_structure`,
  strings respected). ``follow=True`` keeps reading a file that is still being written (like ``tail -f``) until
  its closing ``]`` arrives or the stream is stopped; without it the source ends at the end of the file, and an
  element cut short there (a crashed writer) is reported and left out. After text that is not an element, the
  source resynchronises at the next ``{"num_frames_in_batch"`` (how DeepStream starts every batch).
* :class:`StdinSource`: one element per line (blank lines are ignored).
* :class:`MqttSource`: one element per message on a topic (``mqtt://HOST:PORT/TOPIC``), with reconnection and
  backoff (:mod:`posecls.streaming.mqtt`).
"""
import os
import re
import sys
import threading
import time
from typing import IO, Callable, Iterator, Optional

import numpy as np

from posecls.datasets.deepstream.jsonscan import WS, bracket_structure, line_col

from .messages import Message
from .mqtt import Connection, parse_mqtt_url

#: ``put(message) -> bool``: hand a message to the engine; False once the stream is stopping
Put = Callable[[Message], bool]
#: Largest element (bytes) a source accepts; longer text is reported and skipped.
MAX_MESSAGE_BYTES = 16 << 20
_BATCH_START = re.compile(rb'\{[ \t\r\n]*"num_frames_in_batch"')


class Source:
    """A live input.

    Attributes:
        name: What it reads, for messages.
        malformed: Pieces of input the source itself had to skip (text that is no element, too long, cut short).
    """

    name = 'source'

    def __init__(self, report: Callable[[str], None] = print) -> None:
        self.report = report
        self.malformed = 0

    def run(self, put: Put, stop: threading.Event) -> None:
        """Read until the input ends or ``stop`` is set, handing every element to ``put`` (runs in a thread)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the input (called once the engine is done)."""

    def _skip(self, text: str) -> None:
        self.malformed += 1
        self.report(f'skipped: {text}')


class FileSource(Source):
    """Batch elements of a DeepStream ``--save-pose`` JSON file (see the module docstring).

    Args:
        path: The JSON file (must exist when the stream starts).
        follow: Keep reading as the file grows, until its closing ``]`` or a stop.
        poll_s: Seconds between looks at a followed file that has not grown.
        chunk_bytes: Bytes read per step.
        report: Where skipped input is reported.
    """

    def __init__(self, path: str, follow: bool = False, poll_s: float = 0.05, chunk_bytes: int = 1 << 20,
                 report: Callable[[str], None] = print) -> None:
        super().__init__(report)
        if not os.path.isfile(path):
            raise FileNotFoundError(f'--source: file not found: {path}')
        self.path = path
        self.name = path
        self.follow = follow
        self.poll_s = poll_s
        self.chunk_bytes = chunk_bytes
        self.elements = 0
        self.closed_array = False

    def _where(self, at: int) -> str:
        line, col = line_col(self.path, at)
        return f'{self.path}: byte {at} (line {line}, column {col})'

    def _message(self, payload: bytes, start: int) -> Message:
        path = self.path

        def locate(offset: int) -> str:
            line, col = line_col(path, start + offset)
            return f'byte {start + offset} (line {line}, column {col})'

        msg = Message(payload, f'{path}: batch #{self.elements} at byte {start}', self.elements, locate=locate)
        self.elements += 1
        return msg

    def run(self, put: Put, stop: threading.Event) -> None:
        buf, pos = b'', 0  # unconsumed text and the file offset of its first byte
        opened = False  # the "[" of the array was seen
        with open(self.path, 'rb') as f:
            while not stop.is_set():
                data = f.read(self.chunk_bytes)
                if data:
                    buf += data
                    if not opened:
                        k = len(buf) - len(buf.lstrip(WS + b'\xef\xbb\xbf'))
                        if k == len(buf):
                            continue
                        if buf[k:k + 1] != b'[':
                            self._skip(f'{self._where(pos + k)}: expected the "[" that opens a DeepStream --save-pose '
                                       f'array, found {buf[k:k + 20]!r}; looking for the next batch')
                        else:
                            k += 1
                        opened = True
                        buf, pos = buf[k:], pos + k
                    n = self._elements(buf, pos, put, stop)
                    buf, pos = buf[n:], pos + n
                    if self.closed_array:
                        return
                    continue
                if not self.follow:
                    break
                time.sleep(self.poll_s)
        rest = buf.strip(WS + b',')
        if rest and not stop.is_set():
            self._skip(f'{self._where(pos + len(buf) - len(buf.lstrip(WS + b",")))}: the file ends with {len(rest)} '
                       'bytes that are not a complete batch (a writer that stopped mid-way?); they are left out')

    def _elements(self, buf: bytes, pos: int, put: Put, stop: threading.Event) -> int:
        """Hand on the complete elements at the start of ``buf`` (file offset ``pos``); returns the bytes consumed.

        One bracket scan finds every element that ends in ``buf``; text between elements that is not a separator
        (``,`` and whitespace) is skipped up to the next batch start, and the scan is redone from there.
        """
        done = 0
        while not stop.is_set():
            k = _skip_separators(buf, done)
            if k == len(buf):
                return k
            if buf[k] == 0x5D:  # "]": the array is closed
                self.closed_array = True
                return len(buf)
            if buf[k] != 0x7B:
                nxt = _BATCH_START.search(buf, k + 1)
                if nxt is None and len(buf) - k <= MAX_MESSAGE_BYTES:
                    return k  # the next batch start has not arrived yet (at the end of the input: reported then)
                end = nxt.start() if nxt else len(buf)
                self._skip(f'{self._where(pos + k)}: {buf[k:k + 20]!r} is not a batch object; {end - k} bytes '
                           'skipped up to the next batch')
                done = end
                continue
            p, _, depth = bracket_structure(buf[k:])
            neg = np.flatnonzero(depth < 0)
            limit = int(neg[0]) if neg.size else len(depth)
            ends = k + p[np.flatnonzero(depth[:limit] == 0)] + 1
            if not ends.size:  # incomplete: wait for more text, unless it is too long to be an element
                if len(buf) - k <= MAX_MESSAGE_BYTES:
                    return k
                nxt = _BATCH_START.search(buf, k + 1)
                self._skip(f'{self._where(pos + k)}: a batch longer than {MAX_MESSAGE_BYTES} bytes (or text that '
                           'never closes its brackets); skipped up to the next batch')
                done = nxt.start() if nxt else len(buf)
                continue
            start = k
            for e in ends.tolist():
                s = _skip_separators(buf, start)
                if s >= e or buf[s] != 0x7B:
                    break  # not a separator between two elements: handled (and rescanned) by the outer loop
                if not put(self._message(bytes(buf[s:e]), pos + s)):
                    return e
                start = e
            done = start
        return done


def _skip_separators(buf: bytes, k: int) -> int:
    """First offset >= k of ``buf`` that is neither whitespace nor ``,``."""
    n = len(buf)
    while k < n and (buf[k] in WS or buf[k] == 0x2C):
        k += 1
    return k


class StdinSource(Source):
    """One batch element per line of a binary stream (stdin by default).

    Args:
        stream: Binary stream to read (default ``sys.stdin.buffer``).
        report: Where skipped input is reported.
    """

    name = '<stdin>'

    def __init__(self, stream: Optional[IO[bytes]] = None, report: Callable[[str], None] = print) -> None:
        super().__init__(report)
        self.stream = stream if stream is not None else sys.stdin.buffer

    def _lines(self) -> Iterator[bytes]:
        """Lines of the stream, each at most ``MAX_MESSAGE_BYTES + 1`` bytes (longer: cut, without its newline).

        A stream with a file descriptor is read with ``os.read``: a thread blocked there does not hold the lock of
        ``sys.stdin.buffer``, which would abort the interpreter's shutdown after a SIGTERM.
        """
        try:
            fd = self.stream.fileno()
        except (AttributeError, OSError, ValueError):
            fd = None
        if fd is None:
            yield from iter(lambda: self.stream.readline(MAX_MESSAGE_BYTES + 1), b'')
            return
        buf = b''
        while True:
            data = os.read(fd, 1 << 16)
            if not data:
                if buf:
                    yield buf
                return
            buf += data
            start = 0
            while True:
                nl = buf.find(b'\n', start)
                if nl < 0:
                    break
                yield buf[start:nl + 1]
                start = nl + 1
            buf = buf[start:]
            while len(buf) > MAX_MESSAGE_BYTES:
                yield buf[:MAX_MESSAGE_BYTES + 1]
                buf = buf[MAX_MESSAGE_BYTES + 1:]

    def run(self, put: Put, stop: threading.Event) -> None:
        line_no = 0
        index = 0
        skipping = False  # inside a line that was too long
        for line in self._lines():
            if stop.is_set():
                return
            if skipping:
                skipping = not line.endswith(b'\n')
                continue
            line_no += 1
            if len(line) > MAX_MESSAGE_BYTES and not line.endswith(b'\n'):
                self._skip(f'<stdin> line {line_no}: longer than {MAX_MESSAGE_BYTES} bytes; skipped')
                skipping = True
                continue
            if not line.strip():
                continue
            where = f'<stdin> line {line_no}'
            lead = len(line) - len(line.lstrip())

            def locate(offset: int, lead: int = lead) -> str:
                return f'column {lead + offset + 1}'

            if not put(Message(line, where, index, locate=locate)):
                return
            index += 1


class MqttSource(Source):
    """One batch element per message of an MQTT topic (reconnects with backoff after a broker disconnect).

    Args:
        url: ``mqtt://HOST[:PORT]/TOPIC`` (the topic may use ``+`` / ``#``).
        qos: Subscription QoS (0, 1 or 2).
        report: Where connection events and skipped input are reported.
    """

    def __init__(self, url: str, qos: int = 0, report: Callable[[str], None] = print) -> None:
        super().__init__(report)
        self.url = parse_mqtt_url(url, '--source')
        self.name = str(self.url)
        self.qos = qos
        self.connection: Optional[Connection] = None
        self._count = 0

    def run(self, put: Put, stop: threading.Event) -> None:
        def on_message(client, userdata, message) -> None:
            index = self._count
            self._count += 1
            if len(message.payload) > MAX_MESSAGE_BYTES:
                self._skip(f'{self.url} message #{index}: {len(message.payload)} bytes, longer than '
                           f'{MAX_MESSAGE_BYTES}; skipped')
                return
            put(Message(bytes(message.payload), f'{self.url} message #{index}', index))

        def subscribe(client) -> None:
            client.subscribe(self.url.topic, qos=self.qos)

        self.connection = Connection(self.url, 'source', on_connect=subscribe, on_message=on_message,
                                     report=self.report)
        stop.wait()

    @property
    def reconnects(self) -> int:
        """Reconnections after the first connection."""
        return max(0, self.connection.connects - 1) if self.connection is not None else 0

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()


def open_source(spec: str, follow: bool = False, qos: int = 0, report: Callable[[str], None] = print) -> Source:
    """The source named by ``--source``: ``-`` (stdin), ``mqtt://HOST:PORT/TOPIC``, or a JSON file path.

    Raises:
        FileNotFoundError: a file that does not exist.
        ValueError: a bad MQTT URL, or ``follow`` with a source that is not a file.
    """
    if spec == '-':
        source: Source = StdinSource(report=report)
    elif spec.lower().startswith('mqtt://'):
        source = MqttSource(spec, qos=qos, report=report)
    elif '://' in spec:
        raise ValueError(f'--source {spec!r}: unknown scheme; expected a JSON file, - (stdin) or '
                         'mqtt://HOST:PORT/TOPIC')
    else:
        return FileSource(spec, follow=follow, report=report)
    if follow:
        raise ValueError(f'--follow reads a file that is still being written; --source {spec} is not a file')
    return source
