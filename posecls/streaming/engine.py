"""The live loop: messages -> per-track ring buffers -> the windows due -> one model call -> sinks.

:class:`StreamEngine` runs the source in a thread that fills a bounded queue (at most :data:`QUEUE_MESSAGES`
messages wait, so memory stays bounded when the model falls behind: a file source then waits, an MQTT client
stops reading its socket). The main loop takes the first waiting message, then every message already waiting,
until ``max_batch`` windows are due; each message is parsed (:mod:`~posecls.streaming.messages`) and its frames
update the tracks (:mod:`~posecls.streaming.tracks`). The windows due in those messages go to the model in one
call of :func:`posecls.apis.inference_recognizer` -- the one inference loop, with the config's test pipeline,
for a PyTorch checkpoint, an exported model or a Triton server alike -- and the results go to the sinks
(:mod:`~posecls.streaming.sinks`). A message's windows are never split across calls.

A window is the track's last ``min(n, sequence_length)`` appearances (features exactly as dataset_convert
computes them), copied by dataset_convert's :func:`~posecls.datasets.deepstream.fill_windows` into a zero
array of the model's T, so it is padded at the end like a training segment. A window that holds NaN or an
infinity is never classified: it is reported, counted and gets no action.
"""
import queue
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Deque, Dict, List, Optional, Sequence, Tuple

import numpy as np

from posecls.apis.inference import as_recognizer, inference_recognizer
from posecls.apis.outputs import top1_labels
from posecls.datasets.deepstream.options import ConvertOptions
from posecls.datasets.deepstream.windows import fill_windows
from posecls.utils.input_checks import non_finite_samples

from .messages import MalformedMessage, Message, MessageParser, ObjectId, ParsedMessage
from .sinks import Sink
from .sources import Source
from .tracks import TrackTable

#: most messages waiting between the source thread and the main loop
QUEUE_MESSAGES = 256
#: latencies kept for the percentiles of the summary (the most recent ones)
LATENCY_SAMPLES = 100_000


@dataclass
class StreamOptions:
    """Options of a live stream.

    Attributes:
        convert: dataset_convert options: pose_type, num_joints, input_width/height, focal_length (the
            normalisation), sequence_length (window L), sequence_length_min (shortest window classified) and
            sequence_length_max (T of the model input; windows are zero-padded to it at the end).
        stride: Classify a track every ``stride`` of its appearances.
        expiry_s: Free a track after this many seconds of stream time without an appearance.
        max_tracks: Most live tracks.
        evict_idle_s: At the cap, a track idle at least this long is evicted for a new id.
        clock: Stream time from ``ntp`` (``ntp_timestamp``) or ``frame`` (``frame_num / fps``).
        fps: Frames per second of the ``frame`` clock.
        max_batch: Windows per model call (a message's windows are never split, so a call can hold more).
        idle_timeout_s: End the stream after this many seconds without a message (None: never).
    """

    convert: ConvertOptions = field(default_factory=ConvertOptions)
    stride: int = 30
    expiry_s: float = 2.0
    max_tracks: int = 100
    evict_idle_s: float = 0.5
    clock: str = 'ntp'
    fps: float = 30.0
    max_batch: int = 2
    idle_timeout_s: Optional[float] = None

    def __post_init__(self) -> None:
        if isinstance(self.max_batch, bool) or not isinstance(self.max_batch, int) or self.max_batch < 1:
            raise ValueError(f'max_batch={self.max_batch!r}: expected an integer >= 1')
        t = self.idle_timeout_s
        if t is not None and (isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 < t < float('inf')):
            raise ValueError(f'idle_timeout={t!r}: expected a number of seconds > 0')


@dataclass
class Emission:
    """One classification of one track at one frame.

    Attributes:
        object_id: Tracker id.
        frame_num: Frame of the track's newest appearance in the window.
        time: Stream time of that frame (s).
        arrival: ``time.monotonic()`` when its message arrived.
        length: Appearances in the window (<= sequence_length).
        action: Top-1 class name (None until classified, and for a window that was not classified).
        score: Softmax probability of ``action`` (from the logits).
        logits: (K,) float32 logits in class order.
    """

    object_id: ObjectId
    frame_num: int
    time: float
    arrival: float
    length: int
    action: Optional[str] = None
    score: float = float('nan')
    logits: Optional[np.ndarray] = None


@dataclass
class BatchResult:
    """What one model call produced, for the sinks.

    Attributes:
        messages: The messages used (in arrival order).
        labels: Per message, ``{(object_id, frame_num): the track's newest Emission or None}`` for each of its
            appearances (None: no classification yet, or the id was refused).
        emissions: The emissions of this call, in the order of their appearances.
    """

    messages: List[ParsedMessage] = field(default_factory=list)
    labels: List[Dict[Tuple[ObjectId, int], Optional[Emission]]] = field(default_factory=list)
    emissions: List[Emission] = field(default_factory=list)
    windows: List[np.ndarray] = field(default_factory=list)


@dataclass
class StreamSummary:
    """Counts and latency of a stream (returned by :meth:`StreamEngine.run`, printed by the command).

    Attributes:
        stopped: Why the stream ended: ``end of input``, ``idle timeout``, ``SIGTERM``, ``stopped``.
        messages: Messages used.
        malformed: Messages or pieces of input reported and skipped.
        frames: Frames used.
        appearances: Object appearances used.
        emissions: Actions emitted.
        not_finite: Windows not classified because they held NaN/inf.
        failed_calls: Model calls that failed (their windows got no action; the stream went on).
        model_calls: Model calls.
        tracks_started, tracks_expired, tracks_evicted, refused_appearances, peak_tracks: Track counts.
        reconnects: Broker reconnections of the source.
        unprocessed: Messages received but not processed when the stream was stopped.
        latency_p50_ms, latency_p99_ms: Message arrival -> results written, over the emissions.
    """

    stopped: str = ''
    messages: int = 0
    malformed: int = 0
    frames: int = 0
    appearances: int = 0
    emissions: int = 0
    not_finite: int = 0
    failed_calls: int = 0
    model_calls: int = 0
    tracks_started: int = 0
    tracks_expired: int = 0
    tracks_evicted: int = 0
    refused_appearances: int = 0
    peak_tracks: int = 0
    reconnects: int = 0
    unprocessed: int = 0
    latency_p50_ms: Optional[float] = None
    latency_p99_ms: Optional[float] = None

    def as_dict(self) -> Dict[str, Any]:
        """Plain-dict form."""
        return asdict(self)

    def line(self) -> str:
        """One line for the console."""
        lat = (f', latency p50 {self.latency_p50_ms:.0f} ms / p99 {self.latency_p99_ms:.0f} ms'
               if self.latency_p50_ms is not None else '')
        return (f'{self.stopped}: {self.messages} messages, {self.appearances} appearances, {self.emissions} actions, '
                f'{self.malformed} malformed skipped, {self.tracks_started} tracks ({self.tracks_expired} expired, '
                f'{self.tracks_evicted} evicted, {self.refused_appearances} appearances refused){lat}')


def model_input_shape(model: Any) -> Tuple[Optional[int], Optional[int], Optional[int], Optional[int]]:
    """(C, T, V, M) a model takes; T is None for a PyTorch recognizer (any length), entries None when unknown."""
    shape = getattr(model, 'input_shape', None)
    if shape is not None:
        return tuple(int(d) for d in shape)
    backbone = getattr(model, 'backbone', None)
    return (getattr(backbone, 'in_channels', None), None, getattr(backbone, 'num_node', None), None)


class _End:
    """The source ended (``error``: it failed)."""

    def __init__(self, error: Optional[BaseException] = None) -> None:
        self.error = error


class StreamEngine:
    """Live per-track action recognition (see the module docstring).

    Args:
        model: From :func:`posecls.apis.init_model` (PyTorch or exported), or a :class:`posecls.deploy.Backend`
            such as a :class:`~posecls.deploy.triton.triton_client.TritonBackend`.
        options: :class:`StreamOptions`; ``convert.sequence_length_max`` must be the model's T when it has one.
        sinks: Where results go.
        report: Where skipped input and events are reported (one line each).
        write_back: Keep every message's element for a :class:`~posecls.streaming.sinks.WriteBackSink`.
    """

    def __init__(self, model: Any, options: StreamOptions, sinks: Sequence[Sink] = (),
                 report: Callable[[str], None] = print, write_back: bool = False) -> None:
        self.model = as_recognizer(model)
        self.options = options
        self.sinks = list(sinks)
        self.report = report
        conv = options.convert
        c, t, v, m = model_input_shape(self.model)
        for name, want, got in (('channels C', c, conv.channels), ('joints V', v, conv.num_joints),
                                ('T', t, conv.sequence_length_max), ('persons M', m, 1)):
            if want is not None and want != got:
                raise ValueError(f'the model takes {name} = {want}, but the stream gives {got} (pose_type '
                                 f'{conv.pose_type}, num_joints {conv.num_joints}, sequence_length_max '
                                 f'{conv.sequence_length_max}, one person per window)')
        self.classes = (getattr(self.model, 'dataset_meta', None) or {}).get('classes')
        self.parser = MessageParser(conv, options.clock, options.fps, keep_element=write_back)
        self.table = TrackTable(conv.sequence_length, conv.channels, conv.num_joints, options.expiry_s,
                                options.max_tracks, options.evict_idle_s, options.stride, conv.sequence_length_min)
        self.summary = StreamSummary()
        self.latencies: Deque[float] = deque(maxlen=LATENCY_SAMPLES)

    # ------------------------------------------------------------------ one message
    def add_message(self, msg: Message, batch: BatchResult) -> bool:
        """Parse ``msg`` and add its frames to the tracks and ``batch``; False when it was malformed (reported)."""
        try:
            parsed = self.parser.parse(msg)
        except MalformedMessage as e:
            self.summary.malformed += 1
            self.report(f'skipped: {e}')
            return False
        self.add_parsed(parsed, batch)
        return True

    def add_parsed(self, parsed: ParsedMessage, batch: BatchResult) -> None:
        """Add the frames of a parsed message to the tracks; the windows that fall due go into ``batch``."""
        table, T = self.table, self.options.convert.sequence_length_max
        labels: Dict[Tuple[ObjectId, int], Optional[Emission]] = {}
        arrival = parsed.message.arrival
        for frame in parsed.frames:
            table.advance(frame.time)
            for oid, feats in zip(frame.object_ids, frame.features):
                track = table.add(oid, feats)
                if track is None:
                    labels[(oid, frame.frame_num)] = None
                    continue
                if table.due(track):
                    win = track.window()
                    e = Emission(oid, frame.frame_num, frame.time, arrival, len(win))
                    batch.windows.append(fill_windows(win, np.array([[0, len(win)]]), T))
                    batch.emissions.append(e)
                    track.last_emission = e
                labels[(oid, frame.frame_num)] = track.last_emission
            self.summary.frames += 1
            self.summary.appearances += len(frame.object_ids)
        for oid in table.new_refusals:
            self.report(f'object_id {oid} is not tracked: {table.max_tracks} tracks are live and none has been '
                        f'idle for {table.evict_idle_s:g} s (--max-tracks); it gets a track when one frees')
        table.new_refusals.clear()
        batch.messages.append(parsed)
        batch.labels.append(labels)
        self.summary.messages += 1

    # ------------------------------------------------------------------ the model call
    def classify(self, batch: BatchResult) -> None:
        """Classify the windows of ``batch`` in one model call and write the results to every sink."""
        if batch.emissions:
            x = np.concatenate(batch.windows, axis=0)
            bad = set(non_finite_samples(x))
            for i in sorted(bad):
                e = batch.emissions[i]
                self.report(f'object_id {e.object_id} at frame_num {e.frame_num}: its window holds NaN or infinite '
                            'values; not classified')
            self.summary.not_finite += len(bad)
            keep = [i for i in range(len(batch.emissions)) if i not in bad]
            if keep:
                self._run_model(batch, x[keep] if bad else x, keep)
        batch.windows = []
        batch.emissions = [e for e in batch.emissions if e.action is not None]
        for sink in self.sinks:
            sink.write(batch)
        done = time.monotonic()
        self.latencies.extend(done - e.arrival for e in batch.emissions)
        self.summary.emissions += len(batch.emissions)

    def _run_model(self, batch: BatchResult, x: np.ndarray, keep: List[int]) -> None:
        self.summary.model_calls += 1
        try:
            logits = inference_recognizer(self.model, x, batch_size=len(x))
        except (RuntimeError, OSError, ConnectionError) as e:  # a runtime or server failure: skip, keep streaming
            self.summary.failed_calls += 1
            self.report(f'the model call for {len(x)} windows failed, they get no action: {" ".join(str(e).split())}')
            return
        z = logits.astype(np.float64)
        prob = np.exp(z - z.max(axis=1, keepdims=True))
        prob /= prob.sum(axis=1, keepdims=True)
        top = np.argmax(logits, axis=1)
        names = top1_labels(logits, self.classes)
        for row, i in enumerate(keep):
            e = batch.emissions[i]
            e.logits, e.action, e.score = logits[row], names[row], float(prob[row, top[row]])

    # ------------------------------------------------------------------ the loop
    def run(self, source: Source, stop: Optional[threading.Event] = None,
            reason: Callable[[], str] = lambda: 'stopped') -> StreamSummary:
        """Stream until the source ends, ``stop`` is set or the idle timeout passes; returns the summary.

        Args:
            source: Where messages come from.
            stop: Set it (e.g. from a SIGTERM handler) to end the stream after the current model call.
            reason: Called when ``stop`` ended the stream: the summary's ``stopped``.

        Raises:
            Whatever the source raised (e.g. a file that cannot be read).
        """
        stop = stop if stop is not None else threading.Event()
        q: 'queue.Queue' = queue.Queue(maxsize=QUEUE_MESSAGES)
        quit_source = threading.Event()

        def put(msg: Message) -> bool:
            while not (quit_source.is_set() or stop.is_set()):
                try:
                    q.put(msg, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        def produce() -> None:
            end = _End()
            try:
                source.run(put, quit_source)
            except BaseException as e:  # noqa: BLE001 - handed to the main loop, which raises it
                end = _End(e)
            while not quit_source.is_set():
                try:
                    q.put(end, timeout=0.1)
                    return
                except queue.Full:
                    continue

        thread = threading.Thread(target=produce, name=f'posecls-stream-source-{source.name}', daemon=True)
        thread.start()
        idle = self.options.idle_timeout_s
        last = time.monotonic()
        try:
            while True:
                try:
                    item = q.get(timeout=0.05)
                except queue.Empty:
                    if stop.is_set():
                        self.summary.stopped = reason()
                        break
                    if idle is not None and time.monotonic() - last > idle:
                        self.summary.stopped = 'idle timeout'
                        break
                    continue
                batch, end = BatchResult(), None
                while True:
                    if isinstance(item, _End):
                        end = item
                        break
                    last = time.monotonic()
                    self.add_message(item, batch)
                    if len(batch.emissions) >= self.options.max_batch or stop.is_set():
                        break
                    try:
                        item = q.get_nowait()
                    except queue.Empty:
                        break
                self.classify(batch)
                if stop.is_set():
                    self.summary.stopped = reason()
                    break
                if end is not None:
                    if end.error is not None:
                        raise end.error
                    self.summary.stopped = 'end of input'
                    break
        finally:
            quit_source.set()
            self.summary.unprocessed = sum(1 for item in list(q.queue) if not isinstance(item, _End))
            source.close()
            self._finish(source)
        return self.summary

    def _finish(self, source: Source) -> None:
        s, t = self.summary, self.table.counts
        s.malformed += source.malformed
        s.tracks_started, s.tracks_expired, s.tracks_evicted = t.started, t.expired, t.evicted
        s.refused_appearances, s.peak_tracks = t.refused, t.peak_live
        s.reconnects = getattr(source, 'reconnects', 0)
        if self.latencies:
            lat = np.asarray(self.latencies) * 1e3
            s.latency_p50_ms, s.latency_p99_ms = float(np.percentile(lat, 50)), float(np.percentile(lat, 99))
