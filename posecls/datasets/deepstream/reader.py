"""Streaming reader of the JSON written by deepstream-bodypose-3d ``--save-pose``.

The file is a JSON array of batch objects, each holding a ``"batches"`` array of
frame objects (docs/reference.md §5.1). It is read in chunks of ``chunk_bytes``
and parsed with simdjson (C++, several times faster than orjson here because
the numbers are only materialised for the arrays that are used), a group of
whole elements at a time, so the JSON text held at once (unparsed buffer plus
the text being parsed) stays below ``4 x chunk_bytes + 2 x largest frame
object`` whatever the file size and the batch layout:

* batches smaller than a chunk are parsed whole, many per step;
* a batch larger than a chunk (DeepStream run with a large nvstreammux batch,
  or a file with all frames in one batch object), and a batch cut short by the
  end of the file, are streamed: the text up to its ``"batches": [`` is kept,
  its frame objects are parsed and handed on in groups as they complete, and
  the rest of the batch object is checked when its ``]`` arrives.

Cutting a chunk into whole elements:

* fast path: DeepStream starts every batch with ``{ "num_frames_in_batch"`` and
  every frame with ``{ "batch_id"``; the text before the last such start is
  parsed. A wrong cut cannot go unnoticed: text cut inside an element is
  unbalanced JSON and fails to parse.
* exact path (other key orders or formatting, and to locate errors): a
  vectorised scan of brackets and quotes outside strings
  (:func:`~.jsonscan.bracket_structure`) finds every complete element.

A crashed DeepStream run leaves the array unterminated. Every complete batch
is converted, and so is every complete frame of a batch cut short; the report
says where the input stopped. Anything else that is not strict JSON (including
``NaN``, ``Infinity``, ``-Infinity`` and numbers that overflow such as
``1e999``, which DeepStream never writes) is an error naming the file, the byte,
line and column of the offending token, and what was found there.
"""
import os
import re
from dataclasses import asdict, dataclass
from typing import Any, Optional, Protocol, Tuple

import numpy as np
import simdjson

from .jsonscan import WS, bracket_structure, find_problem, line_col, prefix_problem, string_quotes

#: Key that opens every batch object written by deepstream-bodypose-3d.
BATCH_MARKER = b'"num_frames_in_batch"'
#: Key that opens every frame object written by deepstream-bodypose-3d.
FRAME_MARKER = b'"batch_id"'
_BATCHES_KEY = re.compile(rb'"batches"[ \t\r\n]*:[ \t\r\n]*\Z')
_TOP, _FRAMES = 'batch', 'frame'


class BatchHandler(Protocol):
    """What the reader hands the parsed elements to. simdjson values are valid only during a call."""

    def __call__(self, elements: Any, first_index: int, offset: int, partial: bool) -> int:
        """Whole batch objects (a simdjson Array), the first being batch #``first_index`` at byte ``offset``.

        ``partial`` is never True here (kept for handlers written for earlier readers). Returns the frames seen.
        """

    def frames(self, frames: Any, batch_index: int, offset: int) -> int:
        """Frame objects (a simdjson Array) of the streamed batch #``batch_index``; returns how many."""

    def batch_end(self, head: Any, batch_index: int, offset: int, frames: int, partial: bool) -> None:
        """End of a streamed batch: ``head`` is the batch object with ``"batches"`` empty, ``frames`` how many
        frames it had; ``partial`` when the file ends inside it (``head`` then lacks the keys after "batches")."""


@dataclass
class StopInfo:
    """Where reading stopped early.

    Attributes:
        byte: Offset just after the last complete frame or batch that was used.
        line: 1-based line of ``byte``.
        column: 1-based column of ``byte``.
        reason: What was found there.
    """

    byte: int
    line: int
    column: int
    reason: str


@dataclass
class ReadReport:
    """What the reader saw in one file.

    Attributes:
        path: The JSON file.
        size: File size in bytes.
        batches: Batch objects used (a batch cut short by truncation counts).
        truncated: The JSON array was not terminated.
        stop: Where a truncated input stopped (None when complete).
        partial_batch_frames: Complete frames salvaged from a batch cut short.
        streamed_batches: Batches too large for one step, streamed frame by frame.
        peak_text_bytes: Most JSON text held at once (the unparsed buffer plus
            the text being parsed); below 4 x chunk_bytes + 2 x the largest
            frame object, independent of the file size and batch layout.
    """

    path: str
    size: int
    batches: int = 0
    truncated: bool = False
    stop: Optional[StopInfo] = None
    partial_batch_frames: int = 0
    streamed_batches: int = 0
    peak_text_bytes: int = 0

    def as_dict(self) -> dict:
        """Plain-dict form (for summaries and JSON)."""
        return asdict(self)


@dataclass
class _OpenBatch:
    """A batch being streamed frame by frame.

    Attributes:
        index: Its batch number.
        start: Absolute byte of its ``{``.
        head: Its text from ``{`` to the ``[`` of ``"batches"`` (inclusive).
        frames: Frames handed on so far.
        last_frame_end: Absolute byte just after the last complete frame.
    """

    index: int
    start: int
    head: bytes
    frames: int = 0
    last_frame_end: int = 0


def _skip_ws(buf: bytes, k: int) -> int:
    """First offset >= k of ``buf`` that is not JSON whitespace."""
    n = len(buf)
    while k < n and buf[k] in WS:
        k += 1
    return k


class _Progress:
    """A rich progress bar over bytes, or nothing."""

    def __init__(self, enabled: bool, total: int, label: str) -> None:
        self._bar = None
        if enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )
            self._bar = Progress(TextColumn('{task.description}'), BarColumn(), DownloadColumn(),
                                 TransferSpeedColumn(), TimeRemainingColumn(), console=Console(stderr=True))
            self._task = self._bar.add_task(label, total=total)
            self._bar.start()

    def update(self, done: int) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=done)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


class DeepStreamJsonReader:
    """Reads the batch objects of one deepstream-bodypose-3d JSON file in chunks.

    Args:
        path: The JSON file.
        chunk_bytes: Bytes read per step (the text held stays below four times
            this plus twice the largest frame object).
        progress: Show a progress bar over bytes.
    """

    def __init__(self, path: str, chunk_bytes: int = 1 << 20, progress: bool = False) -> None:
        self.path = path
        self.chunk_bytes = chunk_bytes
        self.progress = progress
        self._parser = simdjson.Parser()

    # ------------------------------------------------------------------ public
    def read(self, handle: BatchHandler) -> ReadReport:
        """Hand every batch (whole, or frame group by frame group) to ``handle``, in file order.

        Args:
            handle: A :class:`BatchHandler`.

        Returns:
            The ReadReport of the file.

        Raises:
            FileNotFoundError: missing file.
            ValueError: empty file, not a JSON array, invalid JSON (non-finite
                numbers included) in a complete element, or data after the
                closing ``]``; the message names the file, byte, line and column.
        """
        for name in ('frames', 'batch_end'):
            if not callable(getattr(handle, name, None)):
                raise TypeError(f'DeepStreamJsonReader.read: the handler needs a {name}() method (see BatchHandler)')
        if not os.path.isfile(self.path):
            raise FileNotFoundError(f'dataset_convert.data: file not found: {self.path}')
        self.report = ReadReport(self.path, os.path.getsize(self.path))
        self._handle = handle
        self._index = 0  # number of the next batch
        self._pos = 0  # absolute offset of the first unconsumed byte
        self._batch: Optional[_OpenBatch] = None
        self._need_sep = False  # an element was consumed; its "," or closing "]" has not been seen yet
        self._comma_at = -1  # absolute offset of a "," not yet followed by an element
        self._held = 0
        self._check_at = self.chunk_bytes  # length of an incomplete element at which its text is checked
        bar = _Progress(self.progress, self.report.size, os.path.basename(self.path))
        try:
            with open(self.path, 'rb') as f:
                self._run(f, bar)
        finally:
            bar.close()
        return self.report

    # ------------------------------------------------------------------ main loop
    def _run(self, f, bar: _Progress) -> None:
        pending = f.read(self.chunk_bytes)
        start = len(pending) - len(pending.lstrip(WS + b'\xef\xbb\xbf'))
        if not pending.strip(WS):
            raise ValueError(f'{self.path}: the file is empty; expected the JSON array written by '
                             'deepstream-bodypose-3d --save-pose')
        if pending[start:start + 1] != b'[':
            raise ValueError(f'{self.path}: expected a JSON array "[" of batch objects at byte {start}, found '
                             f'{pending[start:start + 40]!r}; is this a deepstream-bodypose-3d --save-pose file?')
        self._pos = start + 1
        pending = pending[start + 1:]
        eof = False
        while True:
            pending, closed = self._consume(pending, eof)
            if closed:
                self._check_tail(pending, f)
                bar.update(self.report.size)
                return
            if eof:
                self._finish(pending)
                bar.update(self.report.size)
                return
            bar.update(self._pos)
            data = f.read(self.chunk_bytes)
            eof = not data
            pending += data

    def _consume(self, buf: bytes, eof: bool) -> Tuple[bytes, bool]:
        """Hand on every complete element of ``buf``.

        Returns:
            (rest, closed): the unconsumed text, and whether the top-level ``]`` is at its start.
        """
        while True:
            buf = self._separator(buf)
            if not buf:
                return buf, False
            self._held = len(buf)
            self.report.peak_text_bytes = max(self.report.peak_text_bytes, self._held)
            if buf[0] == 0x5D:  # "]"
                if self._comma_at >= 0:
                    self._raise_at(self._comma_at, f'a "," directly before the closing "]" (after {self._last()})')
                if self._batch is None:
                    return buf, True
                n = self._close_batch(buf)
            elif self._batch is None:
                n = self._elements(buf, _TOP, eof)
            else:
                n = self._elements(buf, _FRAMES, eof)
            if n == 0:
                return buf, False
            self._pos += n
            buf = buf[n:]

    def _separator(self, buf: bytes) -> bytes:
        """Skip whitespace and the one "," expected after an element; raise on a missing or extra ","."""
        k = _skip_ws(buf, 0)
        if k < len(buf) and buf[k] == 0x2C:
            if not self._need_sep:
                self._raise_at(self._pos + k, f'an unexpected "," (after {self._last()})')
            self._need_sep = False
            self._comma_at = self._pos + k
            k = _skip_ws(buf, k + 1)
        elif k < len(buf) and self._need_sep and buf[k] != 0x5D:
            self._raise_at(self._pos + k, f'"," or "]" expected after {self._last()}, found '
                           f'{buf[k:k + 20]!r}')
        self._pos += k
        return buf[k:]

    def _last(self) -> str:
        if self._batch is None:
            return f'batch #{self._index - 1}' if self._index else 'the opening "["'
        b = self._batch
        return f'frame #{b.frames - 1} of batch #{b.index}' if b.frames else f'"batches": [ of batch #{b.index}'

    # ------------------------------------------------------------------ elements
    def _elements(self, buf: bytes, level: str, eof: bool) -> int:
        """Hand on the complete elements (batches or frames) at the start of ``buf``; returns bytes consumed."""
        cut = self._fast_cut(buf, BATCH_MARKER if level == _TOP else FRAME_MARKER)
        if cut is not None and self._handle_group(memoryview(buf)[:cut], level):
            end = cut
            while buf[end - 1] in WS:
                end -= 1
            self._consumed_elements(end, level)
            return cut
        pos, ch, depth = bracket_structure(buf)
        close = np.flatnonzero(depth < 0)
        limit = int(close[0]) if close.size else len(depth)
        ends = np.flatnonzero(depth[:limit] == 0)
        if ends.size:
            end = int(pos[ends[-1]]) + 1
        elif close.size:
            end = int(pos[limit])  # values that are not objects before the closing "]": the handler says what they are
        else:
            if level == _TOP and (eof or len(buf) >= self.chunk_bytes):  # a batch larger than a chunk, or cut short
                n = self._open_batch(buf, pos, ch, depth)
                if n:
                    return n
            if len(buf) >= self._check_at:  # an element this long may be a corrupt one (e.g. a stray '"')
                self._check_prefix(buf)
                self._check_at = 2 * len(buf)
            return 0  # wait for more text
        if end == 0:
            self._raise_at(self._pos, f'unexpected {buf[:1]!r} after {self._last()}')
        if not self._handle_group(memoryview(buf)[:end], level):
            self._locate(buf[:end], level)
        self._consumed_elements(end, level)
        return end

    def _consumed_elements(self, end: int, level: str) -> None:
        """Elements up to ``buf[:end]`` were handed on."""
        self._need_sep = True
        self._comma_at = -1
        self._check_at = self.chunk_bytes
        if level == _FRAMES:
            self._batch.last_frame_end = self._pos + end

    def _fast_cut(self, buf: bytes, marker: bytes) -> Optional[int]:
        """Offset of the "," before the last ``{ <marker>`` element start in ``buf`` (None if unusable)."""
        k = buf.rfind(marker)
        if k <= 0:
            return None
        j = k - 1
        while j > 0 and buf[j] in WS:
            j -= 1
        if j <= 0 or buf[j] != 0x7B:
            return None
        j -= 1
        while j > 0 and buf[j] in WS:
            j -= 1
        return j if j > 0 and buf[j] == 0x2C else None

    def _handle_group(self, text: memoryview, level: str) -> bool:
        """Parse ``text`` (elements separated by commas) and hand it on; False if it is not valid JSON."""
        doc = self._parse(b''.join((b'[', text, b']')))
        if doc is None:
            return False
        try:
            if not isinstance(doc, simdjson.Array):  # pragma: no cover - the text is wrapped in []
                return False
            if level == _TOP:
                n = len(doc)
                self._handle(doc, self._index, self._pos, False)
                self._index += n
                self.report.batches += n
            else:
                b = self._batch
                b.frames += self._handle.frames(doc, b.index, self._pos)
        finally:
            del doc
        return True

    def _parse(self, text: bytes) -> Any:
        """simdjson parse of ``text``; None when simdjson refuses it."""
        self.report.peak_text_bytes = max(self.report.peak_text_bytes, self._held + len(text))
        try:
            return self._parser.parse(text)
        except ValueError:
            return None
        except RuntimeError as err:  # BIGINT_ERROR and other document errors; re-use of the parser is a bug
            if 're-use a parser' in str(err):
                raise
            return None

    # ------------------------------------------------------------------ streamed batches
    def _open_batch(self, buf: bytes, pos: np.ndarray, ch: np.ndarray, depth: np.ndarray) -> int:
        """Start streaming the incomplete batch at the start of ``buf`` if its ``"batches": [`` is there."""
        if not pos.size or pos[0] != 0 or ch[0] != 0x7B:
            return 0
        for i in np.flatnonzero((ch == 0x5B) & (depth == 2)).tolist():
            p = int(pos[i])
            m = _BATCHES_KEY.search(buf, max(0, p - 64), p)
            if m and self._opens_string(buf, m.start()):
                self._batch = _OpenBatch(self._index, self._pos, bytes(buf[:p + 1]), 0, self._pos + p + 1)
                self.report.streamed_batches += 1
                self._need_sep = False
                self._comma_at = -1
                return p + 1
        return 0

    @staticmethod
    def _opens_string(buf: bytes, q: int) -> bool:
        """True when the ``"`` at ``buf[q]`` opens a JSON string (``buf`` starts outside strings)."""
        quotes = string_quotes(np.frombuffer(buf, np.uint8, count=q + 1))
        return bool(quotes.size) and int(quotes[-1]) == q and quotes.size % 2 == 1

    def _close_batch(self, buf: bytes) -> int:
        """``buf`` starts at the ``]`` of a streamed batch's frames: check the rest of the batch object."""
        pos, ch, depth = bracket_structure(buf)
        done = np.flatnonzero(depth == -2)
        if not done.size:
            return 0
        end = int(pos[done[0]]) + 1
        b = self._batch
        head = self._parse_head(b.head + buf[:end], b.head, self._pos)
        try:
            self._handle.batch_end(head, b.index, b.start, b.frames, False)
        finally:
            del head
        self._batch = None
        self._index += 1
        self.report.batches += 1
        self._need_sep = True
        return end

    def _parse_head(self, text: bytes, head: bytes, rest_at: int) -> Any:
        """The batch object of a streamed batch with ``"batches": []``; errors point into the file."""
        doc = self._parse(text)
        if doc is not None and isinstance(doc, simdjson.Object):
            return doc
        del doc
        problem = find_problem(text)
        off, kind, detail = problem if problem else (0, 'invalid JSON', 'not a JSON object')
        at = self._batch.start + off if off < len(head) else rest_at + off - len(head)
        self._raise_problem(at, kind, detail, f'batch #{self._batch.index} (starting at byte {self._batch.start})')

    def _check_prefix(self, buf: bytes) -> None:
        """Raise if ``buf`` (an incomplete element at the current position) is not the beginning of valid JSON."""
        b = self._batch
        head = b.head if b is not None else b''
        problem = prefix_problem(head + buf)
        if problem is None:
            return
        off, kind, detail = problem
        if off < len(head):
            self._raise_problem(b.start + off, kind, detail, f'batch #{b.index} (starting at byte {b.start})')
        where = (f'frame #{b.frames} of batch #{b.index}' if b is not None else f'batch #{self._index}')
        self._raise_problem(self._pos + off - len(head), kind, detail, f'{where} (starting at byte {self._pos})')

    # ------------------------------------------------------------------ end of input
    def _finish(self, pending: bytes) -> None:
        """The file ended before the closing ``]`` of the array: record where and why."""
        if pending:  # a file cut short ends inside its last element; anything else wrong before that is an error
            self._check_prefix(pending)
        self.report.truncated = True
        b = self._batch
        if b is not None:
            if b.frames == 0:
                self._stop(b.start, f'the file ends inside batch #{b.index} before any of its frames is complete; '
                           'every batch before this point was converted')
                return
            head = self._parse_head(b.head + b']}', b.head, self._pos)
            try:
                self._handle.batch_end(head, b.index, b.start, b.frames, True)
            finally:
                del head
            self._index += 1
            self.report.batches += 1
            self.report.partial_batch_frames = b.frames
            self._stop(b.last_frame_end, f'the file ends inside batch #{b.index}; its {b.frames} complete frame(s) '
                       'before this point were converted, the rest is missing')
        elif pending:
            self._stop(self._pos, f'the file ends inside batch #{self._index} before any of its frames is complete; '
                       'every batch before this point was converted')
        else:
            self._stop(self._pos, 'the JSON array is not terminated (no closing "]"); every batch before this point '
                       'was converted')

    def _check_tail(self, tail: bytes, f) -> None:
        """After the closing ``]`` only whitespace may follow."""
        extra = tail[1:].strip(WS)
        if not extra and f is not None:
            extra = f.read(4096).strip(WS)
        if extra:
            line, col = line_col(self.path, self._pos + 1)
            raise ValueError(f'{self.path}: unexpected data after the closing "]" of the JSON array (byte '
                             f'{self._pos + 1}, line {line}, column {col}): {extra[:40]!r}')

    def _stop(self, at: int, reason: str) -> None:
        line, col = line_col(self.path, at)
        self.report.stop = StopInfo(at, line, col, reason)

    # ------------------------------------------------------------------ errors
    def _locate(self, text: bytes, level: str) -> None:
        """Raise a ValueError at the first offending token of ``text`` (elements at the current position)."""
        pos, ch, depth = bracket_structure(text)
        starts = [0] + [int(pos[e]) + 1 for e in np.flatnonzero(depth == 0).tolist()]
        problem = find_problem(b''.join((b'[', text, b']')))
        if problem is None:  # Python's json accepts what simdjson refused: say which element simdjson refused
            for i, (s, e) in enumerate(zip(starts[:-1], starts[1:])):
                elem = text[s:e].lstrip(WS + b',')
                try:
                    self._parser.parse(elem)
                except (ValueError, RuntimeError) as err:
                    self._raise_problem(self._pos + e - len(elem), 'invalid JSON', f'simdjson: {err}',
                                        self._where(level, i, self._pos + e - len(elem)))
            problem = (1, 'invalid JSON', 'simdjson refused the text')
        off = min(max(problem[0] - 1, 0), len(text))
        i = int(np.searchsorted(starts, off, side='right')) - 1
        s = starts[i]
        first = s + len(text[s:]) - len(text[s:].lstrip(WS + b','))
        self._raise_problem(self._pos + off, problem[1], problem[2], self._where(level, i, self._pos + first))

    def _where(self, level: str, i: int, start: int) -> str:
        if level == _TOP:
            return f'batch #{self._index + i} (starting at byte {start})'
        return f'frame #{self._batch.frames + i} of batch #{self._batch.index} (starting at byte {start})'

    def _raise_problem(self, at: int, kind: str, detail: str, where: str) -> None:
        line, col = line_col(self.path, at)
        if kind == 'non-finite number':
            raise ValueError(f'{self.path}: non-finite number {detail} at byte {at} (line {line}, column {col}), in '
                             f'{where}; DeepStream writes finite numbers only (C %f), so this record is not '
                             'converted: fix or regenerate this file')
        if kind == 'invalid JSON':
            raise ValueError(f'{self.path}: invalid JSON at byte {at} (line {line}, column {col}), in {where}: '
                             f'{detail}. Only a file cut short at the end (a crashed DeepStream run) is repaired; '
                             'fix or regenerate this file')
        raise ValueError(f'{self.path}: {kind} {detail} at byte {at} (line {line}, column {col}), in {where}; '
                         'fix or regenerate this file')

    def _raise_at(self, at: int, why: str) -> None:
        line, col = line_col(self.path, at)
        raise ValueError(f'{self.path}: invalid JSON at byte {at} (line {line}, column {col}): {why}. Only a file '
                         'cut short at the end (a crashed DeepStream run) is repaired; fix or regenerate this file')
