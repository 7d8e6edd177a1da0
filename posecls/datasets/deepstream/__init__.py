"""DeepStream body-pose JSON -> TAO skeleton arrays (``dataset_convert``), and the Triton window->frame rule.

Modules: ``options`` (TAO keys + extras, validation), ``reader`` (streaming
JSON), ``features`` (per-joint normalisation), ``tracks`` (per-object
collection, gap splitting), ``windows`` (TAO's window sampling), ``labels``
(labelled dataset rules), ``npy_io`` (atomic .npy writers), ``converter``
(:func:`convert`), ``segments`` (Triton client's segment -> frame mapping and
``action`` fields), ``synthetic`` (realistic DeepStream-style JSON generator).
"""
from .dataset_convert import convert, format_summary, resolve_inputs
from .features import pose_features
from .labels import LabelRule, load_label_rules
from .options import POSE_TYPES, TAO_DEFAULTS, ConvertOptions
from .reader import DeepStreamJsonReader, ReadReport, StopInfo
from .segments import (
                       InferenceInputs,
                       apply_actions,
                       assign_segments,
                       build_inference_inputs,
                       load_pose_json,
                       write_results_json,
)
from .synthetic import generate_deepstream_json, ground_truth_labels
from .tracks import Track, read_tracks, split_positions
from .windows import fill_windows, window_bounds

__all__ = ['convert', 'format_summary', 'resolve_inputs', 'pose_features', 'LabelRule', 'load_label_rules',
           'ConvertOptions', 'TAO_DEFAULTS', 'POSE_TYPES', 'DeepStreamJsonReader', 'ReadReport', 'StopInfo',
           'InferenceInputs', 'apply_actions', 'assign_segments', 'build_inference_inputs', 'load_pose_json',
           'write_results_json', 'generate_deepstream_json', 'ground_truth_labels', 'Track',
           'read_tracks', 'split_positions', 'fill_windows', 'window_bounds']
