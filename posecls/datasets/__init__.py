"""Datasets, samplers, label files and transforms."""
from .label_io import LabelFileError, load_label_file, safe_unpickle, save_label_file
from .pose_dataset import PoseDataset, classes_from_label_map, load_label_map
from .samplers import PoseSampler
from .transforms import *  # noqa: F401,F403

__all__ = ['PoseDataset', 'PoseSampler', 'LabelFileError', 'load_label_file', 'save_label_file', 'safe_unpickle',
           'load_label_map', 'classes_from_label_map']
