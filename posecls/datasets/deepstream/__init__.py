"""DeepStream body-pose JSON -> TAO skeleton arrays (``dataset_convert``), and the Triton window->frame rule.

Modules: ``options`` (TAO keys + extras, validation), ``reader`` (streaming
JSON), ``features`` (per-joint normalisation), ``tracks`` (per-object
collection, gap splitting), ``windows`` (TAO's window sampling), ``labels``
(labelled dataset rules), ``npy_io`` (atomic .npy writers), ``dataset_convert``
(:func:`convert`), ``segments`` (Triton client's segment -> frame mapping and
``action`` fields), ``synthetic`` (realistic DeepStream-style JSON generator).

Everything here needs numpy and pysimdjson only (never torch or mmengine); attributes are
imported on first use (:mod:`posecls.utils.lazy`), so ``from posecls.datasets.deepstream import
convert`` imports only what the conversion runs.
"""
from posecls.utils.lazy import lazy_exports

_EXPORTS = {
    'convert': 'dataset_convert', 'format_summary': 'dataset_convert', 'resolve_inputs': 'dataset_convert',
    'pose_features': 'features', 'LabelRule': 'labels', 'load_label_rules': 'labels',
    'POSE_TYPES': 'options', 'TAO_DEFAULTS': 'options', 'ConvertOptions': 'options',
    'DeepStreamJsonReader': 'reader', 'ReadReport': 'reader', 'StopInfo': 'reader',
    'InferenceInputs': 'segments', 'apply_actions': 'segments', 'assign_segments': 'segments',
    'build_inference_inputs': 'segments', 'load_pose_json': 'segments', 'write_results_json': 'segments',
    'generate_deepstream_json': 'synthetic', 'ground_truth_labels': 'synthetic',
    'Track': 'tracks', 'read_tracks': 'tracks', 'split_positions': 'tracks',
    'fill_windows': 'windows', 'window_bounds': 'windows',
}

__getattr__, __dir__, import_all = lazy_exports(__name__, _EXPORTS)
__all__ = ['convert', 'format_summary', 'resolve_inputs', 'pose_features', 'LabelRule', 'load_label_rules',
           'ConvertOptions', 'TAO_DEFAULTS', 'POSE_TYPES', 'DeepStreamJsonReader', 'ReadReport', 'StopInfo',
           'InferenceInputs', 'apply_actions', 'assign_segments', 'build_inference_inputs', 'load_pose_json',
           'write_results_json', 'generate_deepstream_json', 'ground_truth_labels', 'Track',
           'read_tracks', 'split_positions', 'fill_windows', 'window_bounds']
