"""Collect per-object tracks (features + frame numbers) from a DeepStream JSON file.

Poses are grouped by ``object_id`` in order of first appearance, one entry per
appearance (missing frames are not filled), exactly as TAO does; features are
computed chunk by chunk with :func:`pose_features`, so the JSON is never held
in memory, only the (n, C, V) float32 features, and those go to a
:class:`~.spill.TrackStore`, which moves them to temporary files once they
exceed its budget.
"""
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np
import simdjson

from .features import pose_features
from .options import ConvertOptions
from .reader import DeepStreamJsonReader, ReadReport
from .spill import Rows, TrackStore

ObjectId = Union[int, str]


@dataclass
class Track:
    """One tracked object of one input file.

    Attributes:
        object_id: DeepStream tracker id (int, or str in hand-made files).
        features: (n, C, V) float32 normalised joints, one row per appearance
            (an ndarray, or a :class:`~.spill.DiskRows` whose slices are
            read from a temporary file when the store spilled).
        frame_nums: (n,) int64 ``frame_num`` of each appearance (same kinds).
        source: The JSON file it came from.
    """

    object_id: ObjectId
    features: Rows
    frame_nums: Rows
    source: str

    def __len__(self) -> int:
        return len(self.frame_nums)


@dataclass
class ReadStats:
    """Counts of one file: frame entries, object appearances, and warnings."""

    frames: int = 0
    appearances: int = 0
    last_frame_num: Optional[int] = None
    batch_size_mismatches: int = 0
    warnings: List[str] = field(default_factory=list)


def _missing_pose_message(path: str, key: str, where: str, obj: Any) -> str:
    other = 'pose25d' if key == 'pose3d' else 'pose3d'
    has_other = obj.get(other) is not None
    hint = (f' This object has "{other}": use dataset_convert.pose_type='
            f'{"25dbp (or 2dbp)" if other == "pose25d" else "3dbp"} to convert it.' if has_other else '')
    return (f'{path}: {where} has no "{key}" field, which pose_type needs. Re-run deepstream-bodypose-3d '
            f'(deepstream-pose-estimation-app) with "--save-pose FILE": it writes both "pose25d" and "pose3d" for '
            f'every object (TAO\'s message names "--publish-pose {key}", which only selects the message-broker '
            f'payload).{hint}')


class TrackCollector:
    """Reader handler (:class:`~.reader.BatchHandler`) that validates batches and stores per-object features.

    Args:
        path: The JSON file (for messages; also the store key's first part).
        opts: Conversion options (pose_type, num_joints, frame size, focal length).
        store: Where the rows go (shared by several files); default: a private in-memory store.
    """

    def __init__(self, path: str, opts: ConvertOptions, store: Optional[TrackStore] = None) -> None:
        self.path = path
        self.opts = opts
        self.key = opts.pose_key
        self.nvals = 4 * opts.num_joints
        self.stats = ReadStats()
        self.store = store if store is not None else TrackStore(None, 0)
        self._order: Dict[ObjectId, None] = {}  # object ids in order of first appearance

    # ------------------------------------------------------------------ handler
    def __call__(self, elements: Any, first_index: int, offset: int, partial: bool) -> int:
        """Validate and collect the batches in ``elements``; returns the number of frames."""
        bufs: List[bytes] = []
        oids: List[ObjectId] = []
        fns: List[int] = []
        frames = 0
        for i, batch in enumerate(elements):
            bidx = first_index + i
            if not isinstance(batch, simdjson.Object):
                raise ValueError(f'{self.path}: batch #{bidx} (near byte {offset}) is a {_kind(batch)}, expected an '
                                 'object with "num_frames_in_batch" and "batches"')
            entries = batch.get('batches')
            if not isinstance(entries, simdjson.Array):
                raise ValueError(f'{self.path}: batch #{bidx} (near byte {offset}): "batches" is '
                                 f'{"missing" if entries is None else "a " + _kind(entries)}, expected an array of '
                                 'frames')
            nfb = batch.get('num_frames_in_batch')
            if not partial:
                if type(nfb) is not int:
                    raise ValueError(f'{self.path}: batch #{bidx} (near byte {offset}): "num_frames_in_batch" is '
                                     f'{"missing" if nfb is None else repr(nfb)}, expected an integer')
                if nfb != len(entries):
                    self.stats.batch_size_mismatches += 1
            for frame in entries:
                frames += 1
                self._frame(frame, bidx, bufs, oids, fns)
        self.stats.frames += frames
        if bufs:
            self._add(bufs, oids, fns)
        return frames

    def frames(self, frames: Any, batch_index: int, offset: int) -> int:
        """Validate and collect frames of a batch streamed frame by frame; returns their number."""
        bufs: List[bytes] = []
        oids: List[ObjectId] = []
        fns: List[int] = []
        n = 0
        for frame in frames:
            n += 1
            self._frame(frame, batch_index, bufs, oids, fns)
        self.stats.frames += n
        if bufs:
            self._add(bufs, oids, fns)
        return n

    def batch_end(self, head: Any, batch_index: int, offset: int, frames: int, partial: bool) -> None:
        """Check the keys of a streamed batch (``head``: the batch with "batches" empty)."""
        if partial:
            return
        nfb = head.get('num_frames_in_batch')
        if type(nfb) is not int:
            raise ValueError(f'{self.path}: batch #{batch_index} (near byte {offset}): "num_frames_in_batch" is '
                             f'{"missing" if nfb is None else repr(nfb)}, expected an integer')
        if nfb != frames:
            self.stats.batch_size_mismatches += 1

    def _frame(self, frame: Any, bidx: int, bufs: List[bytes], oids: List[ObjectId], fns: List[int]) -> None:
        if not isinstance(frame, simdjson.Object):
            raise ValueError(f'{self.path}: batch #{bidx}: a frame is a {_kind(frame)}, expected an object with '
                             '"frame_num" and "objects"')
        fn = frame.get('frame_num')
        if type(fn) is not int:
            raise ValueError(f'{self.path}: batch #{bidx}: "frame_num" is {"missing" if fn is None else repr(fn)}, '
                             'expected an integer')
        objs = frame.get('objects')
        if not isinstance(objs, simdjson.Array):
            raise ValueError(f'{self.path}: frame_num {fn} (batch #{bidx}): "objects" is '
                             f'{"missing" if objs is None else "a " + _kind(objs)}, expected an array')
        nbytes = 8 * self.nvals
        key = self.key
        n0 = len(bufs)
        try:  # fast path; anything unexpected is re-checked one by one below for a precise message
            for obj in objs:
                oid = obj['object_id']
                pose = obj[key]
                buf = pose.as_buffer(of_type='d')
                if buf.size != nbytes or type(oid) not in (int, str) or len(pose) != self.nvals:
                    raise ValueError
                bufs.append(buf)
                oids.append(oid)
            fns.extend([fn] * (len(bufs) - n0))
            self.stats.last_frame_num = fn
            return
        except (KeyError, TypeError, ValueError, AttributeError):
            del bufs[n0:], oids[n0:]
        for obj in objs:
            if not isinstance(obj, simdjson.Object):
                raise ValueError(f'{self.path}: frame_num {fn} (batch #{bidx}): an object is a {_kind(obj)}, '
                                 'expected {"object_id": ..., "pose25d": [...], "pose3d": [...]}')
            oid = obj.get('object_id')
            if type(oid) not in (int, str):
                raise ValueError(f'{self.path}: frame_num {fn} (batch #{bidx}): "object_id" is '
                                 f'{"missing" if oid is None else repr(oid)}, expected an integer tracker id')
            where = f'frame_num {fn} (batch #{bidx}), object_id {oid}'
            pose = obj.get(key)
            if pose is None:
                raise KeyError(_missing_pose_message(self.path, key, where, obj))
            if not isinstance(pose, simdjson.Array):
                raise ValueError(f'{self.path}: {where}: "{key}" is {pose!r}, expected an array of '
                                 f'{self.nvals} numbers')
            try:
                buf = pose.as_buffer(of_type='d')
            except TypeError:
                raise ValueError(self._non_numeric(pose, where)) from None
            if buf.size != nbytes or len(pose) != self.nvals:
                raise ValueError(self._wrong_count(pose, buf.size // 8, where))
        raise AssertionError(f'{self.path}: frame_num {fn}: unexpected object data')  # pragma: no cover

    def _non_numeric(self, pose: Any, where: str) -> str:
        for i, v in enumerate(pose.as_list()):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                return (f'{self.path}: {where}: "{self.key}"[{i}] = {v!r} is not a number; expected '
                        f'{self.nvals} numbers ({self.opts.num_joints} joints x [x, y, z, conf])')
        return f'{self.path}: {where}: "{self.key}" holds values that are not numbers'

    def _wrong_count(self, pose: Any, flat: int, where: str) -> str:
        n = len(pose)
        if flat != n:
            return (f'{self.path}: {where}: "{self.key}" holds nested arrays; expected a flat array of '
                    f'{self.nvals} numbers ({self.opts.num_joints} joints x [x, y, z, conf])')
        hint = (f'; if the skeleton really has {n // 4} joints set dataset_convert.num_joints={n // 4}'
                if n % 4 == 0 and n else '')
        return (f'{self.path}: {where}: "{self.key}" has {n} values, expected {self.nvals} = '
                f'num_joints {self.opts.num_joints} x 4 [x, y, z, conf]{hint}')

    def _add(self, bufs: List[bytes], oids: List[ObjectId], fns: List[int]) -> None:
        poses = np.frombuffer(b''.join(bufs), np.float64).reshape(len(bufs), self.nvals)
        o = self.opts
        feats = pose_features(poses, o.pose_type, o.input_width, o.input_height, o.focal_length)
        bad = ~np.isfinite(feats).reshape(len(bufs), -1).all(axis=1)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f'{self.path}: frame_num {fns[i]}, object_id {oids[i]}: "{self.key}" gives a '
                             'non-finite feature (a value too large for float32); check the input')
        frame_nums = np.asarray(fns, np.int64)
        rows: Dict[ObjectId, List[int]] = {}
        for i, oid in enumerate(oids):
            rows.setdefault(oid, []).append(i)
        for oid, idx in rows.items():
            self._order.setdefault(oid)
            if len(idx) == len(oids):
                self.store.append((self.path, oid), feats, frame_nums)
            else:
                ix = np.asarray(idx)
                self.store.append((self.path, oid), feats[ix], frame_nums[ix])
        self.stats.appearances += len(bufs)

    # ------------------------------------------------------------------ result
    def tracks(self) -> List[Track]:
        """The collected tracks, in order of first appearance (call after the store's ``finish()``)."""
        return [Track(oid, *self.store.arrays((self.path, oid)), self.path) for oid in self._order]


def _kind(v: Any) -> str:
    if isinstance(v, simdjson.Object):
        return 'JSON object'
    if isinstance(v, simdjson.Array):
        return 'JSON array'
    return f'{type(v).__name__} {v!r}'


def read_tracks(path: str, opts: ConvertOptions,
                progress: bool = False) -> Tuple[List[Track], ReadReport, ReadStats]:
    """Read one DeepStream JSON file into per-object tracks.

    Args:
        path: deepstream-bodypose-3d ``--save-pose`` JSON (may be truncated).
        opts: Conversion options.
        progress: Show a progress bar.

    Returns:
        (tracks, report, stats): tracks in order of first appearance; the
        reader's report (truncation, stop position); frame/appearance counts.

    Raises:
        FileNotFoundError, KeyError (missing pose field), ValueError (any other
        bad input), all naming the file and where in it.
    """
    collector, report = collect_tracks(path, opts, TrackStore(None, 0), progress)
    return collector.tracks(), report, collector.stats


def collect_tracks(path: str, opts: ConvertOptions, store: TrackStore,
                   progress: bool = False) -> Tuple[TrackCollector, ReadReport]:
    """Read one file into ``store``; ``collector.tracks()`` gives its tracks once ``store.finish()`` was called.

    Raises:
        The errors of :func:`read_tracks`.
    """
    collector = TrackCollector(path, opts, store)
    report = DeepStreamJsonReader(path, opts.chunk_bytes, progress).read(collector)
    return collector, report


def split_positions(frame_nums: Rows, split_gap: Optional[int], block: int = 1 << 20) -> List[Tuple[int, int]]:
    """Pieces of a track where consecutive frame numbers are at most ``split_gap`` apart.

    Args:
        frame_nums: (n,) frame numbers of the appearances (ndarray or DiskRows).
        split_gap: Largest allowed forward jump; None keeps one piece (TAO).
            A backward jump always splits when ``split_gap`` is set.
        block: Frame numbers looked at per step (bounds memory for DiskRows).

    Returns:
        ``[start, end)`` position ranges covering ``0..n``.
    """
    n = len(frame_nums)
    if split_gap is None or n < 2:
        return [(0, n)] if n else []
    cuts: List[int] = []
    for s in range(0, n - 1, block):
        d = np.diff(np.asarray(frame_nums[s:min(n, s + block + 1)]))
        cuts += (np.flatnonzero((d > split_gap) | (d < 0)) + s + 1).tolist()
    edges = [0] + cuts + [n]
    return list(zip(edges[:-1], edges[1:]))
