"""Live per-track state: a ring buffer of the last ``sequence_length`` appearances per object_id, expiry, a cap.

Memory is bounded by ``max_tracks x sequence_length x C x V x 4`` bytes (100 tracks of 100 x 3 x 34 float32:
4 MB), whatever the length of the stream and the number of object ids it ever shows.

Rules (all in stream time, see :mod:`posecls.streaming.messages`):

* **Appearances.** A track is an object_id's consecutive appearances, as in dataset_convert: frames where the
  object is missing are not filled (docs/reference.md §5.2).
* **Expiry.** At every frame, before its objects are added, every track not updated for more than ``expiry_s``
  seconds is freed (DeepStream's pose-classification preprocessor frees an object after 2 s without updates,
  §5.5). An id that comes back later starts a new track with an empty buffer.
* **Cap and eviction.** When an object_id that has no track arrives while ``max_tracks`` tracks are live, the
  track idle longest is evicted if it has been idle for at least ``evict_idle_s`` (it has probably left; ties:
  the one that started first). Otherwise every live track is in view and the newcomer is refused (counted;
  it gets a track when one frees), so an over-full scene keeps classifying the people it already tracks
  instead of restarting everyone's buffer at every frame.
* **When a track is due.** After its ``n``-th appearance, a track is classified when ``n % stride == 0`` and
  ``n >= sequence_length_min``; its window is its last ``min(n, sequence_length)`` appearances, oldest first.
"""
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, List, Optional, Union

import numpy as np

ObjectId = Union[int, str]


class TrackState:
    """One live track: its ring buffer and counters.

    Attributes:
        object_id: DeepStream tracker id.
        count: Appearances since the track started.
        started: Stream time of its first appearance.
        last_time: Stream time of its last appearance.
        last_emission: The newest emission (classification) of this track, or None (see the engine).
    """

    __slots__ = ('object_id', 'ring', 'count', 'started', 'last_time', 'last_emission')

    def __init__(self, object_id: ObjectId, length: int, channels: int, joints: int, now: float) -> None:
        self.object_id = object_id
        self.ring = np.zeros((length, channels, joints), np.float32)
        self.count = 0
        self.started = now
        self.last_time = now
        self.last_emission: Any = None

    def push(self, features: np.ndarray, now: float) -> None:
        """Add one appearance: (C, V) float32 features at stream time ``now``."""
        self.ring[self.count % len(self.ring)] = features
        self.count += 1
        self.last_time = now

    def window(self) -> np.ndarray:
        """The last ``min(count, sequence_length)`` appearances, oldest first: (k, C, V) float32."""
        n, length = self.count, len(self.ring)
        if n <= length:
            return self.ring[:n]
        head = n % length
        return self.ring if head == 0 else np.concatenate([self.ring[head:], self.ring[:head]])


@dataclass
class TrackCounts:
    """What happened to tracks so far.

    Attributes:
        started: Tracks started (an id that expired and came back counts again).
        expired: Tracks freed by expiry.
        evicted: Tracks evicted by the cap.
        refused: Appearances of an id that got no track (the cap was reached and no track was idle).
        peak_live: Most tracks live at once.
    """

    started: int = 0
    expired: int = 0
    evicted: int = 0
    refused: int = 0
    peak_live: int = 0


class TrackTable:
    """Live tracks by object_id (see the module docstring for the rules).

    Args:
        sequence_length: Ring buffer length L (appearances).
        channels: C of the features.
        joints: V of the features.
        expiry_s: Free a track after this many seconds of stream time without an appearance.
        max_tracks: Most live tracks.
        evict_idle_s: A track idle at least this long may be evicted for a newcomer when the table is full.
        stride: Classify a track every ``stride`` appearances ...
        min_length: ... once it has at least this many.
    """

    def __init__(self, sequence_length: int, channels: int, joints: int, expiry_s: float = 2.0, max_tracks: int = 100,
                 evict_idle_s: float = 0.5, stride: int = 30, min_length: int = 10) -> None:
        for name, v in (('sequence_length', sequence_length), ('max_tracks', max_tracks), ('stride', stride),
                        ('sequence_length_min', min_length)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f'{name}={v!r}: expected an integer >= 1')
        for name, v in (('expiry', expiry_s), ('evict_idle', evict_idle_s)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < float('inf'):
                raise ValueError(f'{name}={v!r}: expected a finite number of seconds >= 0')
        if min_length > sequence_length:
            raise ValueError(f'sequence_length_min={min_length} is larger than sequence_length={sequence_length}: no '
                             'track would ever be classified')
        self.length, self.channels, self.joints = sequence_length, channels, joints
        self.expiry_s, self.max_tracks, self.evict_idle_s = float(expiry_s), max_tracks, float(evict_idle_s)
        self.stride, self.min_length = stride, min_length
        self.tracks: 'OrderedDict[ObjectId, TrackState]' = OrderedDict()
        self.counts = TrackCounts()
        self.now = float('-inf')
        self._refused_ids: 'OrderedDict[ObjectId, None]' = OrderedDict()  # refused since they last had a track
        #: ids refused for the first time since they last had a track (the engine reports and clears them)
        self.new_refusals: List[ObjectId] = []

    def __len__(self) -> int:
        return len(self.tracks)

    def advance(self, now: float) -> List[ObjectId]:
        """Move stream time to ``now`` (it never goes back) and free the expired tracks; returns their ids."""
        self.now = max(self.now, now)
        gone = [oid for oid, t in self.tracks.items() if self.now - t.last_time > self.expiry_s]
        for oid in gone:
            del self.tracks[oid]
        self.counts.expired += len(gone)
        return gone

    def add(self, object_id: ObjectId, features: np.ndarray) -> Optional[TrackState]:
        """Add one appearance at the current stream time.

        Args:
            object_id: Tracker id.
            features: (C, V) float32.

        Returns:
            The track, or None when the id was refused (cap reached, no idle track).
        """
        track = self.tracks.get(object_id)
        if track is None:
            if len(self.tracks) >= self.max_tracks and not self._evict():
                self.counts.refused += 1
                if object_id not in self._refused_ids:
                    self.new_refusals.append(object_id)
                    self._refused_ids[object_id] = None
                    if len(self._refused_ids) > 4 * self.max_tracks:  # bounded: forget the oldest refused id
                        self._refused_ids.popitem(last=False)
                return None
            track = TrackState(object_id, self.length, self.channels, self.joints, self.now)
            self.tracks[object_id] = track
            self.counts.started += 1
            self.counts.peak_live = max(self.counts.peak_live, len(self.tracks))
            self._refused_ids.pop(object_id, None)
        track.push(features, self.now)
        return track

    def due(self, track: TrackState) -> bool:
        """Whether ``track`` is classified after its latest appearance."""
        return track.count >= self.min_length and track.count % self.stride == 0

    def _evict(self) -> bool:
        oldest: Optional[TrackState] = None
        for t in self.tracks.values():  # insertion order: on a tie the track that started first wins
            if oldest is None or t.last_time < oldest.last_time:
                oldest = t
        if oldest is None or self.now - oldest.last_time < self.evict_idle_s:
            return False
        del self.tracks[oldest.object_id]
        self.counts.evicted += 1
        return True
