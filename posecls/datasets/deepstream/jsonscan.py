"""JSON text helpers of the streaming reader: a vectorised structure scan, and exact error locations.

* :func:`bracket_structure` finds the brackets outside strings and the nesting
  depth after each (numpy, no per-byte Python loop), which is how the reader
  cuts a chunk into whole batch or frame objects.
* :func:`find_problem` says what is wrong with a JSON text that simdjson
  refused, and at which byte. Python's ``json`` module accepts ``NaN``,
  ``Infinity``, ``-Infinity`` and numbers that overflow to infinity (``1e999``);
  simdjson and DeepStream (C ``%f`` of finite floats) do not, so those tokens
  are reported as what they are, where they are, instead of as a generic
  structure error. Integers beyond 64 bits (simdjson cannot hold them) and
  invalid UTF-8 are located too.
* :func:`line_col` turns a byte offset of a file into a 1-based line and column.
"""
import json
import math
import re
from typing import Optional, Tuple

import numpy as np

WS = b' \t\r\n'


def string_quotes(a: np.ndarray) -> np.ndarray:
    """Positions of the ``"`` that open or close JSON strings (not the escaped ones).

    Args:
        a: uint8 (N,) JSON text that starts outside any string.

    Returns:
        int64 (Q,) positions, in order; a position p is outside strings when an
        even number of them lie before p.
    """
    quotes = np.flatnonzero(a == 0x22)
    if quotes.size == 0:
        return quotes
    backslash = a == 0x5C
    if not backslash.any():
        return quotes
    # a quote is escaped when an odd number of backslashes precede it: measure the backslash run before each quote
    idx = np.arange(a.size, dtype=np.int64)
    last_other = np.maximum.accumulate(np.where(backslash, -1, idx))
    before = quotes - 1
    run = np.where(before >= 0, before - last_other[np.maximum(before, 0)], 0)
    return quotes[run % 2 == 0]


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
    quotes = string_quotes(a)
    pos = np.flatnonzero((a == 0x7B) | (a == 0x7D) | (a == 0x5B) | (a == 0x5D))
    if quotes.size:
        pos = pos[np.searchsorted(quotes, pos) % 2 == 0]
    ch = a[pos]
    depth = np.cumsum(np.where((ch == 0x7B) | (ch == 0x5B), 1, -1))
    return pos, ch, depth


class _Refused(ValueError):
    """A token that is valid for Python's ``json`` but not for simdjson/DeepStream."""

    def __init__(self, token: str, kind: str) -> None:
        super().__init__(token)
        self.token = token
        self.kind = kind


def _constant(token: str) -> float:
    raise _Refused(token, 'non-finite number')


def _float(token: str) -> float:
    value = float(token)
    if not math.isfinite(value):
        raise _Refused(token, 'non-finite number')
    return value


def _int(token: str) -> int:
    digits = len(token) - token.startswith('-')
    if digits > 20 or not -(1 << 63) <= int(token) < (1 << 64):
        raise _Refused(token, 'integer outside the 64-bit range')
    return 0  # the value is not used


def _token_offset(text: bytes, token: str) -> int:
    """Byte offset of the first value ``token`` (a number or constant that json refused) outside strings.

    json reads a value only after ``[``, ``,``, ``:`` or whitespace; a number token is its longest match, so no
    digit follows it; the constants are matched by prefix. Returns -1 if not found.
    """
    quotes = string_quotes(np.frombuffer(text, np.uint8))
    after = rb'(?![0-9])' if token[-1:].isdigit() else b''
    pattern = re.compile(rb'(?:^|(?<=[\[,:\s]))' + re.escape(token.encode('ascii')) + after)
    for m in pattern.finditer(text):
        if np.searchsorted(quotes, m.start()) % 2 == 0:
            return m.start()
    return -1


def find_problem(text: bytes) -> Optional[Tuple[int, str, str]]:
    """The first thing in ``text`` that makes it unacceptable JSON for the reader.

    Args:
        text: One JSON value (e.g. ``[batch, batch]``).

    Returns:
        None when ``text`` is strict, finite, 64-bit JSON; else ``(offset,
        kind, detail)``: the byte offset in ``text`` of the offending token,
        ``kind`` one of ``'invalid JSON'``, ``'non-finite number'``, ``'integer
        outside the 64-bit range'``, ``'invalid UTF-8'``, and a detail (the
        token, or the JSON decoder's message).
    """
    try:
        s = text.decode('utf-8')
    except UnicodeDecodeError as err:
        return err.start, 'invalid UTF-8', f'byte {text[err.start:err.start + 1]!r}'
    try:
        json.loads(s, parse_constant=_constant, parse_float=_float, parse_int=_int)
    except _Refused as err:
        at = _token_offset(text, err.token)
        return max(at, 0), err.kind, repr(err.token)
    except json.JSONDecodeError as err:
        return len(s[:err.pos].encode('utf-8')), 'invalid JSON', err.msg
    except RecursionError:
        return 0, 'invalid JSON', 'nesting too deep'
    return None


#: A text cut short ends inside or right after its last token; DeepStream's tokens are shorter than this.
TOKEN_SLACK = 64


def prefix_problem(text: bytes) -> Optional[Tuple[int, str, str]]:
    """Like :func:`find_problem` for a text that may be cut short at the end (a crashed writer).

    Returns:
        None when ``text`` is the beginning of valid JSON (the decoder only
        fails within the last ``TOKEN_SLACK`` bytes); else the problem.
    """
    problem = find_problem(text)
    if problem is None or (problem[1] == 'invalid JSON' and problem[0] >= len(text) - TOKEN_SLACK):
        return None
    return problem


def line_col(path: str, target: int) -> Tuple[int, int]:
    """1-based line and column of byte ``target`` of file ``path`` (re-reads the file up to it)."""
    lines, last_nl, done = 0, -1, 0
    with open(path, 'rb') as f:
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
