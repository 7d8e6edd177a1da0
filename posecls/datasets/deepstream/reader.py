"""Streaming reader of the JSON written by deepstream-bodypose-3d ``--save-pose``.

The file is a JSON array of batch objects (tao_reference.md §5.1). It is read
in chunks of ``chunk_bytes``; each chunk's complete batch objects are parsed
with simdjson (C++, several times faster than orjson here because the numbers
are only materialised for the arrays that are used), so a file larger than
memory converts with memory bounded by one chunk.

Splitting a chunk into whole batch objects:

* fast path: deepstream-bodypose-3d starts every batch with
  ``{ "num_frames_in_batch"``; the text before the last such start is parsed.
  A wrong cut cannot go unnoticed: text cut inside a batch is unbalanced JSON
  and fails to parse.
* exact path (other key orders or formatting, and to locate errors): a
  vectorised scan of brackets and quotes outside strings finds every top-level
  element.

A crashed DeepStream run leaves the array unterminated. Every complete batch
is converted, and so is every complete frame of a batch cut short; the report
says where the input stopped. A complete element that is not valid JSON is an
error naming the file, byte, line and column.
"""
import json
import os
from dataclasses import asdict, dataclass
from typing import Any, Callable, List, Optional, Tuple

import numpy as np
import simdjson

#: Key that opens every batch object written by deepstream-bodypose-3d.
BATCH_MARKER = b'"num_frames_in_batch"'
_WS = b' \t\r\n'
_OPEN = (0x7B, 0x5B)  # { [

#: handle(elements, first_batch_index, byte_offset, partial) -> frames used; it is
#: called with a simdjson Array of batch objects and must not keep references to them.
Handler = Callable[[Any, int, int, bool], int]


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
    """

    path: str
    size: int
    batches: int = 0
    truncated: bool = False
    stop: Optional[StopInfo] = None
    partial_batch_frames: int = 0

    def as_dict(self) -> dict:
        """Plain-dict form (for summaries and JSON)."""
        return asdict(self)


def bracket_structure(buf: bytes) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Brackets of ``buf`` that are outside JSON strings, and the nesting depth after each.

    Args:
        buf: JSON text that starts outside any string.

    Returns:
        (pos, char, depth): int64 (K,) byte positions of ``{}[]`` outside
        strings, uint8 (K,) the characters, int64 (K,) depth after each one
        relative to the start of ``buf``.
    """
    a = np.frombuffer(buf, np.uint8)
    quotes = np.flatnonzero(a == 0x22)
    if quotes.size and buf.find(b'\\') >= 0:
        keep = np.ones(quotes.size, bool)
        for i, p in enumerate(quotes.tolist()):  # only files with escapes take this loop
            n = 0
            while p - n - 1 >= 0 and a[p - n - 1] == 0x5C:
                n += 1
            keep[i] = n % 2 == 0
        quotes = quotes[keep]
    pos = np.flatnonzero((a == 0x7B) | (a == 0x7D) | (a == 0x5B) | (a == 0x5D))
    if quotes.size:
        pos = pos[np.searchsorted(quotes, pos) % 2 == 0]
    ch = a[pos]
    depth = np.cumsum(np.where((ch == 0x7B) | (ch == 0x5B), 1, -1))
    return pos, ch, depth


class _Progress:
    """A rich progress bar over bytes, or nothing."""

    def __init__(self, enabled: bool, total: int, label: str) -> None:
        self._bar = None
        if enabled:
            from rich.console import Console
            from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                                       TransferSpeedColumn)
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
        chunk_bytes: Bytes read per step (memory use is about twice this plus
            the largest batch object).
        progress: Show a progress bar over bytes.
    """

    def __init__(self, path: str, chunk_bytes: int = 1 << 20, progress: bool = False) -> None:
        self.path = path
        self.chunk_bytes = chunk_bytes
        self.progress = progress
        self._parser = simdjson.Parser()

    # ------------------------------------------------------------------ public
    def read(self, handle: Handler) -> ReadReport:
        """Call ``handle`` on every group of complete batch objects, in file order.

        Args:
            handle: ``handle(elements, first_batch_index, byte_offset, partial)``;
                ``elements`` is a simdjson Array of batch values (valid only
                during the call), ``partial`` is True for a batch cut short by
                truncation (only its complete frames are present).

        Returns:
            The ReadReport of the file.

        Raises:
            FileNotFoundError: missing file.
            ValueError: empty file, not a JSON array, invalid JSON in a
                complete batch, or data after the closing ``]``.
        """
        if not os.path.isfile(self.path):
            raise FileNotFoundError(f'dataset_convert.data: file not found: {self.path}')
        self.report = ReadReport(self.path, os.path.getsize(self.path))
        self._handle = handle
        self._index = 0
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
        start = len(pending) - len(pending.lstrip(_WS + b'\xef\xbb\xbf'))
        if not pending.strip(_WS):
            raise ValueError(f'{self.path}: the file is empty; expected the JSON array written by '
                             'deepstream-bodypose-3d --save-pose')
        if pending[start:start + 1] != b'[':
            raise ValueError(f'{self.path}: expected a JSON array "[" of batch objects at byte {start}, found '
                             f'{pending[start:start + 40]!r}; is this a deepstream-bodypose-3d --save-pose file?')
        self._pos = 0
        self._advance(pending, start + 1)
        pending = pending[start + 1:]
        eof = False
        while True:
            if not eof:
                data = f.read(self.chunk_bytes)
                eof = not data
                pending += data
            stripped = pending.lstrip(_WS)
            self._advance(pending, len(pending) - len(stripped))
            pending = stripped
            if eof:
                self._finish(pending)
                bar.update(self.report.size)
                return
            cut = self._fast_cut(pending)
            if cut is not None:
                j = cut - 1
                while j > 0 and pending[j] in _WS:
                    j -= 1
                if pending[j] == 0x2C and self._try_handle(b''.join((b'[', memoryview(pending)[:j], b']')), False):
                    self._advance(pending, cut)
                    pending = pending[cut:]
                    bar.update(self._pos)
                    continue
            consumed, closed = self._exact_step(pending, eof=False)
            self._advance(pending, consumed)
            pending = pending[consumed:]
            if closed:
                self._check_tail(pending, f)
                bar.update(self.report.size)
                return
            bar.update(self._pos)

    def _fast_cut(self, buf: bytes) -> Optional[int]:
        """Offset of the last ``{ "num_frames_in_batch"`` batch start in ``buf`` (None if unusable)."""
        k = buf.rfind(BATCH_MARKER)
        if k <= 0:
            return None
        j = k - 1
        while j > 0 and buf[j] in _WS:
            j -= 1
        return j if j > 0 and buf[j] == 0x7B else None

    def _finish(self, pending: bytes) -> None:
        """Handle the rest of the file after the last read."""
        body = pending.rstrip(_WS)
        if body.endswith(b']') and self._try_handle(b'[' + body, False):
            return
        consumed, closed = self._exact_step(pending, eof=True)
        self._advance(pending, consumed)
        rest = pending[consumed:]
        if closed:
            self._check_tail(rest, None)
            return
        self.report.truncated = True
        lead = len(rest) - len(rest.lstrip(_WS + b','))
        self._advance(rest, lead)
        rest = rest[lead:]
        if rest:
            self._salvage(rest)
        else:
            self._stop(b'', 'the JSON array is not terminated (no closing "]"); every batch before this point was '
                       'converted')

    # ------------------------------------------------------------------ exact path
    def _exact_step(self, buf: bytes, eof: bool) -> Tuple[int, bool]:
        """Handle every complete top-level element of ``buf``.

        Returns:
            (consumed, closed): bytes of ``buf`` consumed (up to the end of the
            last complete element, separators included) and whether the
            top-level array's ``]`` was reached (``consumed`` then points at it).
        """
        pos, ch, depth = bracket_structure(buf)
        close = np.flatnonzero(depth < 0)
        limit = int(close[0]) if close.size else len(depth)
        ends = np.flatnonzero(depth[:limit] == 0)
        closed = bool(close.size)
        if ends.size == 0:
            if closed:
                head = buf[:int(pos[limit])].strip(_WS)
                if head:
                    self._raise_invalid(buf, 0, f'batch #{self._index}: a value that is not a batch object')
                return int(pos[limit]), True
            return 0, False
        last_end = int(pos[ends[-1]]) + 1
        if not self._try_handle(b'[' + buf[:last_end] + b']', False):
            self._locate_error(buf, pos, depth, ends)
        if closed:
            between = buf[last_end:int(pos[limit])]
            if between.strip(_WS):
                self._raise_invalid(buf, last_end, f'unexpected {between.strip(_WS)[:40]!r} before the closing "]"')
            return int(pos[limit]), True
        rest = buf[last_end:]
        return last_end + len(rest) - len(rest.lstrip(_WS + b',')), False

    def _locate_error(self, buf: bytes, pos: np.ndarray, depth: np.ndarray, ends: np.ndarray) -> None:
        """Raise a ValueError pointing at the first top-level element that is not valid JSON."""
        start = 0
        for i, e in enumerate(ends.tolist()):
            end = int(pos[e]) + 1
            text = buf[start:end]
            lead = len(text) - len(text.lstrip(_WS + b','))
            try:
                json.loads(text[lead:])
            except ValueError as err:
                at = start + lead + getattr(err, 'pos', 0)
                self._raise_invalid(buf, at, f'batch #{self._index + i} (starting at byte {self._pos + start + lead})'
                                    f': {getattr(err, "msg", str(err))}')
            start = end
        self._raise_invalid(buf, 0, 'the batch objects are not separated by commas')

    def _raise_invalid(self, buf: bytes, at: int, why: str) -> None:
        line, col = self._line_col(buf, at)
        raise ValueError(f'{self.path}: invalid JSON at byte {self._pos + at} (line {line}, column {col}), in {why}. '
                         'Only a file cut short at the end (a crashed DeepStream run) is repaired; fix or regenerate '
                         'this file')

    def _check_tail(self, tail: bytes, f) -> None:
        """After the closing ``]`` only whitespace may follow."""
        extra = tail[1:].strip(_WS)
        if not extra and f is not None:
            more = f.read(4096)
            extra = more.strip(_WS)
        if extra:
            line, col = self._line_col(tail, 1)
            raise ValueError(f'{self.path}: unexpected data after the closing "]" of the JSON array (byte '
                             f'{self._pos + 1}, line {line}, column {col}): {extra[:40]!r}')

    # ------------------------------------------------------------------ truncation
    def _salvage(self, tail: bytes) -> None:
        """Use the complete frames of a batch cut short (``tail`` starts at its ``{``, at the current position)."""
        pos, ch, depth = bracket_structure(tail)
        # a frame object closes where the depth returns to 2: the batch "{" and its "batches" "[" are open
        for k in np.flatnonzero((depth == 2) & (ch == 0x7D))[::-1].tolist():
            opened: List[int] = []
            for c in ch[:k + 1].tolist():
                if c in _OPEN:
                    opened.append(c)
                else:
                    opened.pop()
            closing = bytes(0x5D if c == 0x5B else 0x7D for c in reversed(opened))
            end = int(pos[k]) + 1
            batch = self._index
            if self._try_handle(b'[' + tail[:end] + closing + b']', True):
                self.report.partial_batch_frames = self._last_partial_frames
                self._stop(tail[:end], f'the file ends inside batch #{batch}; its {self._last_partial_frames} '
                           'complete frame(s) before this point were converted, the rest is missing')
                return
        self._stop(b'', f'the file ends inside batch #{self._index} before any of its frames is complete; every '
                   'batch before this point was converted')

    def _stop(self, text: bytes, reason: str) -> None:
        """Record that reading stopped ``len(text)`` bytes after the current position."""
        line, col = self._line_col(text, len(text))
        self.report.stop = StopInfo(self._pos + len(text), line, col, reason)

    # ------------------------------------------------------------------ helpers
    def _try_handle(self, text: bytes, partial: bool) -> bool:
        """Parse ``text`` (a JSON array of batches) and pass it on; False if it is not valid JSON."""
        try:
            doc = self._parser.parse(text)
        except ValueError:
            return False
        try:
            if not isinstance(doc, simdjson.Array):
                return False
            n = len(doc)
            frames = self._handle(doc, self._index, self._pos, partial)  # returns the number of frames
            self._last_partial_frames = frames if partial else 0
        finally:
            del doc
        self._index += n
        self.report.batches += n
        return True

    def _advance(self, buf: bytes, n: int) -> None:
        """Move the absolute position past ``buf[:n]``."""
        self._pos += n

    def _line_col(self, buf: bytes, k: int) -> Tuple[int, int]:
        """1-based line and column of ``buf[k]``, where ``buf`` starts at the current position.

        Lines are counted only here (errors and truncation), by re-reading the file.
        """
        target = self._pos + k
        lines, last_nl, done = 0, -1, 0
        with open(self.path, 'rb') as f:
            while done < target:
                block = f.read(min(8 << 20, target - done))
                if not block:
                    break
                nl = block.count(b'\n')
                if nl:
                    lines += nl
                    last_nl = done + block.rfind(b'\n')
                done += len(block)
        return lines + 1, target - last_nl
