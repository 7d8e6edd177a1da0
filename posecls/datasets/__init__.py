"""Datasets, samplers, label files and transforms.

Attributes are imported on first use (:mod:`posecls.utils.lazy`): ``posecls.datasets.deepstream``
and ``posecls.datasets.label_io`` need numpy only, ``PoseDataset`` brings torch and mmengine.
The names of ``posecls.datasets.transforms`` are attributes here too.
"""
from posecls.utils.lazy import lazy_exports

_EXPORTS = {
    'PoseDataset': 'pose_dataset', 'PoseSampler': 'samplers',
    'LabelFileError': 'label_io', 'load_label_file': 'label_io', 'save_label_file': 'label_io',
    'safe_unpickle': 'label_io', 'load_label_map': 'label_io', 'classes_from_label_map': 'label_io',
}

__getattr__, __dir__, import_all = lazy_exports(__name__, _EXPORTS, star=('transforms', ))
__all__ = ['PoseDataset', 'PoseSampler', 'LabelFileError', 'load_label_file', 'save_label_file', 'safe_unpickle',
           'load_label_map', 'classes_from_label_map']
