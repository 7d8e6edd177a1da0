"""Where live results go: JSON lines (a file or stdout), an MQTT topic, and the DeepStream JSON with ``action``.

Every sink gets each processed group of messages as a :class:`~posecls.streaming.engine.BatchResult` and takes
what it needs:

* :class:`JsonLinesSink`: one line per emission, ``{"frame_num", "object_id", "action", "score", "logits"}``
  (logits in class order, as float32 values printed in their shortest exact form), written and flushed as the
  results come, so a consumer can follow the file. The file is truncated when the stream starts.
* :class:`MqttSink`: the same line as one MQTT message per emission.
* :class:`WriteBackSink`: every message that was used, written back as a DeepStream JSON array with
  ``"action"`` on each object, as TAO's Triton client writes ``results.json`` (docs/reference.md §7.3,
  :func:`~posecls.datasets.deepstream.apply_actions`: ``num_obj_meta`` removed, ``action`` added). An object's
  action is its track's newest action at that frame (``""`` before the first one). The file is written to a
  temporary file and moved into place when the stream ends, so it is always complete JSON.
"""
import json
import sys
from typing import IO, TYPE_CHECKING, Callable, Dict, List, Optional, Sequence

import numpy as np

from posecls.datasets.deepstream.segments import apply_actions
from posecls.utils.atomic_io import atomic_open

from .mqtt import Connection, parse_mqtt_url

if TYPE_CHECKING:  # pragma: no cover
    from .engine import BatchResult, Emission


def _float32(v: float) -> float:
    """The shortest decimal that reads back as the same float32 (json then prints it short)."""
    return float(str(np.float32(v)))


def emission_record(e: 'Emission') -> Dict[str, object]:
    """The JSON object of one emission."""
    return dict(frame_num=e.frame_num, object_id=e.object_id, action=e.action, score=_float32(e.score),
                logits=[_float32(v) for v in e.logits.tolist()])


def emission_line(e: 'Emission') -> str:
    """One JSON line (no newline) of an emission."""
    return json.dumps(emission_record(e))


class Sink:
    """Receives the results of every processed group of messages."""

    def write(self, result: 'BatchResult') -> None:
        """Take one group's results."""

    def close(self) -> None:
        """Finish (flush, close, move a file into place)."""


class JsonLinesSink(Sink):
    """JSON lines to a file (truncated at start) or to stdout (``-``).

    Args:
        path: Output file or ``-``.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._own = path != '-'
        self._f: IO[str] = open(path, 'w', encoding='utf-8') if self._own else sys.stdout
        self.lines = 0

    def write(self, result: 'BatchResult') -> None:
        if not result.emissions:
            return
        self._f.write(''.join(emission_line(e) + '\n' for e in result.emissions if e.action is not None))
        self._f.flush()
        self.lines += sum(e.action is not None for e in result.emissions)

    def close(self) -> None:
        self._f.flush()
        if self._own:
            self._f.close()


class MqttSink(Sink):
    """Publishes each emission's JSON line as one message (reconnects with backoff after a disconnect).

    Args:
        url: ``mqtt://HOST[:PORT]/TOPIC`` (no wildcards).
        qos: Publish QoS (0, 1 or 2).
        report: Where connection events are reported.

    Attributes:
        published: Messages handed to the client.
        dropped: Messages the client refused (not connected at QoS 0, or its queue of 1000 was full).
    """

    def __init__(self, url: str, qos: int = 0, report: Callable[[str], None] = print) -> None:
        self.url = parse_mqtt_url(url, '--mqtt-out', wildcards=False)
        self.qos = qos
        self.connection = Connection(self.url, 'publisher', report=report)
        self.published = 0
        self.dropped = 0

    def write(self, result: 'BatchResult') -> None:
        for e in result.emissions:
            if e.action is None:
                continue
            info = self.connection.client.publish(self.url.topic, emission_line(e), qos=self.qos)
            if info.rc == 0:
                self.published += 1
            else:
                self.dropped += 1

    def close(self) -> None:
        self.connection.close()


class WriteBackSink(Sink):
    """The used messages as a DeepStream JSON array with ``action`` per object (see the module docstring).

    Args:
        path: Output JSON file (written atomically when the stream ends).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._ctx = atomic_open(path, 'w')
        self._f = self._ctx.__enter__()
        self._f.write('[')
        self.elements = 0

    def write(self, result: 'BatchResult') -> None:
        parts: List[str] = []
        for parsed, labels in zip(result.messages, result.labels):
            segments = {key: i for i, key in enumerate(labels)}
            actions: Sequence[str] = [(e.action or '') if e is not None else '' for e in labels.values()]
            element = apply_actions([parsed.element], segments, actions)[0]
            parts.append(('\n' if self.elements == 0 else ',\n') + json.dumps(element, sort_keys=True))
            self.elements += 1
        if parts:
            self._f.write(''.join(parts))

    def close(self, error: Optional[BaseException] = None) -> None:
        if self._ctx is None:
            return
        ctx, self._ctx = self._ctx, None
        if error is not None:
            ctx.__exit__(type(error), error, error.__traceback__)
            return
        self._f.write('\n]\n')
        ctx.__exit__(None, None, None)
