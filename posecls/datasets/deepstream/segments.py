"""Which window labels which frame: the rule of TAO's Triton client, and the ``action`` fields it writes.

tao-toolkit-triton-apps (``utils/pose_cls_dataset_convert.py`` and
``postprocessing/pose_classification_postprocessor.py``; docs/reference.md §5.4,
§7.3): the windows of every object, in order of first appearance, are
numbered globally (segment k = row k of the array sent to the model). A window
``[s, e)`` of an object's appearances with ``e - s > step`` gives its id to the
appearances at positions ``s + step .. e - 1``; a later window overwrites an
earlier one. The first ``step`` appearances of a track, and windows no longer
than ``step``, label nothing. Each object in each frame then gets ``action`` =
the top-1 class of its segment, or ``""``; ``num_obj_meta`` is removed.

Usage (inference on a JSON file)::

    inputs = build_inference_inputs('demo_3dbp.json')                # sequences (N, C, 300, V, 1), segments
    logits = model(inputs.sequences)                                  # (N, K)
    pose_data, report = load_pose_json('demo_3dbp.json')
    apply_actions(pose_data, inputs.segments, top1_labels(logits, classes))  # posecls.apis.outputs
    write_results_json('results/results.json', pose_data)
"""
import json
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from posecls.utils.atomic_io import atomic_write_bytes

from .options import ConvertOptions
from .reader import DeepStreamJsonReader, ReadReport
from .tracks import read_tracks, split_positions
from .windows import fill_windows, piece_bounds

SegmentMap = Dict[Tuple[Any, int], int]


def assign_segments(tracks: Mapping[Any, Sequence[int]], sequence_length: int = 100, sequence_overlap: float = 0.5,
                    sequence_length_min: int = 10, split_gap: Optional[int] = None) -> SegmentMap:
    """Segment id of every (object_id, frame_num), by the Triton client's rule.

    Args:
        tracks: object_id -> frame_num of each appearance, in appearance
            order; the mapping's order is the order of the sequences (first
            appearance, as :func:`read_tracks` and :func:`build_inference_inputs` give).
        sequence_length, sequence_overlap, sequence_length_min: The window
            options used to build the sequences (TAO defaults).
        split_gap: The ``split_gap`` used to build the sequences (None = TAO).

    Returns:
        ``{(object_id, frame_num): segment id}`` for every appearance, -1 where
        no window labels it. Segment ids count windows over all objects.
    """
    opts = ConvertOptions(sequence_length=sequence_length, sequence_overlap=sequence_overlap,
                          sequence_length_min=sequence_length_min, sequence_length_max=max(sequence_length, 1),
                          split_gap=split_gap)
    step = opts.step
    out: SegmentMap = {}
    seg = 0
    for oid, frames in tracks.items():
        frames = np.asarray(frames, np.int64)
        for fn in frames.tolist():
            out.setdefault((oid, fn), -1)
        bounds = piece_bounds(split_positions(frames, split_gap), sequence_length, step, sequence_length_min)
        for s, e in bounds.tolist():
            if e - s > step:
                for fn in frames[s + step:e].tolist():
                    out[(oid, fn)] = seg
            seg += 1
    return out


def apply_actions(pose_data: List[dict], segments: Mapping[Tuple[Any, int], int], actions: Sequence[str]) -> List[dict]:
    """Write ``action`` into every object of every frame, as the Triton postprocessor does (in place).

    Args:
        pose_data: The DeepStream JSON as Python objects (:func:`load_pose_json`).
        segments: From :func:`assign_segments` (or ``build_inference_inputs().segments``).
        actions: Top-1 class name of each segment (sequence) id.

    Returns:
        ``pose_data``, with ``num_obj_meta`` removed from each frame and
        ``action`` (``""`` where no segment applies) added to each object.

    Raises:
        ValueError: a segment id with no action.
    """
    for batch in pose_data:
        for frame in batch['batches']:
            frame.pop('num_obj_meta', None)
            fn = frame['frame_num']
            for obj in frame['objects']:
                seg = segments.get((obj['object_id'], fn), -1)
                if seg >= len(actions):
                    raise ValueError(f'segment {seg} of object {obj["object_id"]} at frame {fn} has no action: only '
                                     f'{len(actions)} predictions were given')
                obj['action'] = actions[seg] if seg >= 0 else ''
    return pose_data


def write_results_json(path: str, pose_data: List[dict]) -> None:
    """Write ``results.json`` like the Triton client (``json.dump(sort_keys=True, indent=2)``), atomically."""
    atomic_write_bytes(path, json.dumps(pose_data, sort_keys=True, indent=2).encode())


class _PoseData:
    """Reader handler that keeps every batch as Python lists/dicts (streamed batches are reassembled)."""

    def __init__(self) -> None:
        self.batches: List[dict] = []
        self._frames: List[Any] = []

    def __call__(self, elements: Any, first_index: int, offset: int, partial: bool) -> int:
        got = elements.as_list()
        self.batches.extend(got)
        return sum(len(b.get('batches', [])) for b in got if isinstance(b, dict))

    def frames(self, frames: Any, batch_index: int, offset: int) -> int:
        got = frames.as_list()
        self._frames.extend(got)
        return len(got)

    def batch_end(self, head: Any, batch_index: int, offset: int, frames: int, partial: bool) -> None:
        batch = head.as_dict()
        batch['batches'] = self._frames
        self._frames = []
        self.batches.append(batch)


def load_pose_json(path: str, chunk_bytes: int = 1 << 20) -> Tuple[List[dict], ReadReport]:
    """The DeepStream JSON as Python lists/dicts, streaming; a truncated file gives its complete frames.

    Returns:
        (batches, report).
    """
    keep = _PoseData()
    report = DeepStreamJsonReader(path, chunk_bytes).read(keep)
    return keep.batches, report


class InferenceInputs(NamedTuple):
    """What the Triton client sends and needs back.

    Attributes:
        sequences: (N, C, sequence_length_max, V, 1) float32, windows of all
            objects in order (row k = segment k), identical to ``convert``'s.
        segments: ``{(object_id, frame_num): segment id or -1}``.
        windows: per row ``(object_id, first frame_num, last frame_num)``.
        report: The reader's report (truncation).
    """

    sequences: np.ndarray
    segments: SegmentMap
    windows: List[Tuple[Any, int, int]]
    report: ReadReport


def build_inference_inputs(data: str, **options: Any) -> InferenceInputs:
    """Windows of every object of one JSON file plus their frame mapping (the Triton client's converter).

    Args:
        data: deepstream-bodypose-3d JSON file.
        **options: ``dataset_convert`` options (pose_type, num_joints, ...,
            split_gap, chunk_bytes); label options are not accepted.

    Returns:
        InferenceInputs. Unlike TAO's Triton client, an object too short for
        any window is simply left out instead of crashing ``np.concatenate``.
    """
    for k in ('labels', 'label_map', 'val_ratio', 'val_files'):
        if options.get(k) is not None:
            raise ValueError(f'build_inference_inputs: option {k} is for building a labelled dataset')
    opts = ConvertOptions.from_kwargs(**options)
    tracks, report, _ = read_tracks(data, opts)
    blocks, windows, frames = [], [], {}
    for t in tracks:
        frames[t.object_id] = t.frame_nums
        bounds = piece_bounds(split_positions(t.frame_nums, opts.split_gap), opts.sequence_length, opts.step,
                              opts.sequence_length_min)
        if len(bounds):
            blocks.append(fill_windows(t.features, bounds, opts.sequence_length_max))
            windows += [(t.object_id, int(t.frame_nums[s]), int(t.frame_nums[e - 1])) for s, e in bounds.tolist()]
    seqs = (np.concatenate(blocks, axis=0) if blocks else
            np.zeros((0, opts.channels, opts.sequence_length_max, opts.num_joints, 1), np.float32))
    segments = assign_segments(frames, opts.sequence_length, opts.sequence_overlap, opts.sequence_length_min,
                               opts.split_gap)
    return InferenceInputs(seqs, segments, windows, report)
