"""One message of a live stream -> frames of per-object features, with dataset_convert's validation and normalisation.

A message is one element of the array that deepstream-bodypose-3d ``--save-pose`` writes (docs/reference.md
§5.1): ``{"num_frames_in_batch": n, "batches": [{"frame_num", "ntp_timestamp", "objects": [{"object_id",
"pose25d", "pose3d"}]}]}``, whether it comes from a file, a line of stdin or an MQTT payload. It is parsed with
simdjson and validated and normalised by dataset_convert's own code
(:class:`~posecls.datasets.deepstream.tracks.TrackCollector`, which calls
:func:`~posecls.datasets.deepstream.pose_features`), so a live feature is bit-identical to the feature
``dataset_convert`` writes for the same pose, and a record ``dataset_convert`` refuses is refused here too.
A message that fails any check is rejected whole with :class:`MalformedMessage`, which names where it came
from (file byte / line / column, stdin line, MQTT message number) and what is wrong.

Stream time (the clock of track expiry and eviction) comes from the message, never from the wall clock:
``clock='ntp'`` uses ``ntp_timestamp`` (nanoseconds, DeepStream's NTP or system time of the frame) and
``clock='frame'`` uses ``frame_num / fps``.
"""
import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import numpy as np
import simdjson

from posecls.datasets.deepstream.jsonscan import find_problem
from posecls.datasets.deepstream.options import ConvertOptions
from posecls.datasets.deepstream.tracks import TrackCollector

ObjectId = Union[int, str]
#: clocks of stream time: ``ntp`` (``ntp_timestamp`` / 1e9) or ``frame`` (``frame_num / fps``)
CLOCKS = ('ntp', 'frame')


class MalformedMessage(ValueError):
    """A message that cannot be used: invalid JSON, a missing or wrong field, a pose dataset_convert refuses."""


@dataclass
class Message:
    """The raw text of one batch element and where it came from.

    Attributes:
        payload: The element's JSON text (one batch object).
        where: Its origin for messages, e.g. ``demo.json: batch #12 at byte 34567``, ``<stdin> line 4``,
            ``mqtt://host:1883/pose message #9``.
        index: Its number in the source (0-based).
        arrival: ``time.monotonic()`` when it arrived (latency is measured from here).
        locate: Turns a byte offset inside ``payload`` into a position text (line and column in a file);
            None: ``byte <offset>`` of the message.
    """

    payload: bytes
    where: str
    index: int = 0
    arrival: float = field(default_factory=time.monotonic)
    locate: Optional[Callable[[int], str]] = None

    def position(self, offset: int) -> str:
        """Where byte ``offset`` of the payload is, in words."""
        return self.locate(offset) if self.locate is not None else f'byte {offset} of the message'


@dataclass
class Frame:
    """One frame of a message: its objects' normalised joints.

    Attributes:
        frame_num: DeepStream frame number.
        time: Stream time of the frame in seconds.
        object_ids: Object ids in the frame's order.
        features: (n, C, V) float32, one row per object, normalised as dataset_convert does.
    """

    frame_num: int
    time: float
    object_ids: List[ObjectId]
    features: np.ndarray


@dataclass
class ParsedMessage:
    """A message that passed every check.

    Attributes:
        message: The raw message.
        frames: Its frames, in order.
        element: The element as Python objects (kept only for the DeepStream write-back; else None).
    """

    message: Message
    frames: List[Frame]
    element: Optional[dict] = None


class _Rows:
    """The TrackStore interface of :class:`TrackCollector`: keeps each object's rows of this message, in order."""

    def __init__(self) -> None:
        self.rows: Dict[ObjectId, List[np.ndarray]] = {}

    def append(self, key: Tuple[str, ObjectId], features: np.ndarray, frame_nums: np.ndarray) -> None:
        self.rows.setdefault(key[1], []).extend(features)


class MessageParser:
    """Validates and normalises messages (see the module docstring).

    Args:
        opts: dataset_convert options (pose_type, num_joints, input_width/height, focal_length).
        clock: ``ntp`` or ``frame`` (see :data:`CLOCKS`).
        fps: Frames per second of the ``frame`` clock.
        keep_element: Also return the element as Python objects (for the write-back).
    """

    def __init__(self, opts: ConvertOptions, clock: str = 'ntp', fps: float = 30.0, keep_element: bool = False) -> None:
        if clock not in CLOCKS:
            raise ValueError(f'clock={clock!r}: expected one of {", ".join(CLOCKS)}')
        if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not 0 < fps < float('inf'):
            raise ValueError(f'fps={fps!r}: expected a finite number > 0')
        self.opts = opts
        self.clock = clock
        self.fps = float(fps)
        self.keep_element = keep_element

    def parse(self, msg: Message) -> ParsedMessage:
        """Frames of one message.

        Raises:
            MalformedMessage: naming ``msg.where``, the position and the problem.
        """
        text = msg.payload.strip()
        if not text.startswith(b'{'):
            raise MalformedMessage(f'{msg.where}: expected one batch object {{"num_frames_in_batch": ..., '
                                   f'"batches": [...]}}, found {text[:40]!r}')
        try:
            frames = self._frames(msg, text)
        except (ValueError, KeyError) as e:
            if isinstance(e, MalformedMessage):
                raise
            raise MalformedMessage(e.args[0] if isinstance(e, KeyError) and e.args else str(e)) from None
        element = json.loads(text) if self.keep_element else None
        return ParsedMessage(msg, frames, element)

    def _frames(self, msg: Message, text: bytes) -> List[Frame]:
        parser = simdjson.Parser()  # a fresh parser per message: no value of an earlier message can pin it
        try:
            doc = parser.parse(b'[' + text + b']')
        except (ValueError, RuntimeError):
            problem = find_problem(text)
            off, kind, detail = problem if problem else (0, 'invalid JSON', 'simdjson refused the text')
            raise MalformedMessage(f'{msg.where}: {kind} at {msg.position(off)}: {detail}') from None
        if len(doc) != 1:
            raise MalformedMessage(f'{msg.where}: expected one batch object, found {len(doc)} values')
        rows = _Rows()
        with np.errstate(over='ignore'):  # a pose too large for float32 is refused by the collector, not warned
            TrackCollector(msg.where, self.opts, rows)(doc, msg.index, 0, False)
        frames = self._frame_list(msg, doc[0], rows)
        del doc
        return frames

    def _frame_list(self, msg: Message, batch: Any, rows: _Rows) -> List[Frame]:
        cursor = {oid: 0 for oid in rows.rows}
        out = []
        for frame in batch['batches']:
            fn = frame['frame_num']
            oids = [obj['object_id'] for obj in frame['objects']]
            feats = []
            for oid in oids:
                feats.append(rows.rows[oid][cursor[oid]])
                cursor[oid] += 1
            out.append(Frame(fn, self._time(msg, frame, fn), oids,
                             np.stack(feats) if feats else np.zeros((0, self.opts.channels, self.opts.num_joints),
                                                                   np.float32)))
        return out

    def _time(self, msg: Message, frame: Any, fn: int) -> float:
        if self.clock == 'frame':
            return fn / self.fps
        ts = frame.get('ntp_timestamp')
        if type(ts) is not int or ts < 0:
            raise MalformedMessage(f'{msg.where}: frame_num {fn}: "ntp_timestamp" is '
                                   f'{"missing" if ts is None else repr(ts)}, expected an integer >= 0 (nanoseconds); '
                                   'the ntp clock needs it: use --clock frame (with --fps) for input without it')
        return ts / 1e9
