"""deepstream-bodypose-3d JSON -> windows + frame segments, as the TAO Triton client's converter does it.

TO BE REPLACED by ``posecls.datasets.deepstream`` (issue #4, dataset_convert): when that module lands, make
:func:`convert_for_client` call its JSON reader / feature conversion / ``assign_segments`` and delete the
private helpers below. The client (``posecls.deploy.triton.client``) only uses :func:`load_convert_config`,
:func:`convert_for_client` and :func:`label_frames`.

Rules (tao_reference.md §5.2-§5.4, tao-toolkit-triton-apps ``utils/pose_cls_dataset_convert.py``):

* poses are grouped per ``object_id`` in order of first appearance; a sequence is the object's consecutive
  appearances (missing frames are not filled);
* features: ``3dbp`` (pose3d - pelvis) / focal_length, ``25dbp`` (u/W - 0.5, v/H - 0.5, zRel), ``2dbp`` (u/W - 0.5,
  v/H - 0.5); a joint with confidence exactly 0.0 is all zeros;
* windows of ``sequence_length`` frames with step ``int(sequence_length * sequence_overlap)``, kept while at least
  ``sequence_length_min`` frames remain, zero-padded at the end to ``sequence_length_max``; one global segment id
  per window across objects (objects in order);
* a window ``[s, e)`` with ``e - s > step`` labels the appearances ``s + step ... e - 1`` of its object (a later
  window overwrites); every other appearance keeps segment -1 (action ``""``);
* the returned JSON drops ``num_obj_meta`` from every frame and adds ``segment_id`` and ``"action": ""`` to every
  object.
"""
import copy
import json
import os.path as osp
from typing import Any, Dict, List, Tuple

import numpy as np

#: Triton converter YAML defaults (dataset_convert_config_pose_classification.yaml); TAO's names
#: input_width/input_height are accepted as aliases of frame_width/frame_height.
DEFAULT_CONVERT_CONFIG: Dict[str, Any] = dict(pose_type='3dbp', num_joints=34, frame_width=1920, frame_height=1080,
                                              focal_length=1200.0, sequence_length_max=300, sequence_length_min=10,
                                              sequence_length=100, sequence_overlap=0.5)
POSE_TYPES = ('3dbp', '25dbp', '2dbp')


def load_convert_config(path: str) -> Dict[str, Any]:
    """Read a dataset_convert YAML (Triton or TAO key names) over :data:`DEFAULT_CONVERT_CONFIG`.

    Raises:
        FileNotFoundError / ValueError: missing file, unknown keys or invalid values (named).
    """
    import yaml

    if not osp.isfile(path):
        raise FileNotFoundError(f'dataset_convert config not found: {path}')
    with open(path) as f:
        raw = yaml.safe_load(f) or {}
    if not isinstance(raw, dict):
        raise ValueError(f'{path}: expected a YAML mapping of dataset_convert options')
    raw = dict(raw.get('dataset_convert', raw))
    aliases = dict(input_width='frame_width', input_height='frame_height')
    cfg = dict(DEFAULT_CONVERT_CONFIG)
    ignored = {'data', 'results_dir'}
    for key, value in raw.items():
        key = aliases.get(key, key)
        if key in ignored:
            continue
        if key not in cfg:
            raise ValueError(f'{path}: unknown dataset_convert option {key!r}; expected {sorted(cfg)}')
        cfg[key] = value
    check_convert_config(cfg, path)
    return cfg


def check_convert_config(cfg: Dict[str, Any], where: str = 'dataset_convert config') -> None:
    """Validate option values; raises ValueError naming the option."""
    if cfg['pose_type'] not in POSE_TYPES:
        raise ValueError(f'{where}: pose_type must be one of {POSE_TYPES}, got {cfg["pose_type"]!r}')
    for key in ('num_joints', 'sequence_length_max', 'sequence_length_min', 'sequence_length'):
        if not isinstance(cfg[key], int) or cfg[key] < 1:
            raise ValueError(f'{where}: {key} must be a positive int, got {cfg[key]!r}')
    if cfg['sequence_length'] > cfg['sequence_length_max']:
        raise ValueError(f'{where}: sequence_length {cfg["sequence_length"]} > sequence_length_max '
                         f'{cfg["sequence_length_max"]}')
    if int(cfg['sequence_length'] * cfg['sequence_overlap']) < 1:
        raise ValueError(f'{where}: sequence_overlap {cfg["sequence_overlap"]} gives a window step of '
                         f'int({cfg["sequence_length"]} * {cfg["sequence_overlap"]}) = 0 (TAO loops forever); use > 0')
    for key in ('focal_length', 'frame_width', 'frame_height'):
        if not cfg[key] or float(cfg[key]) <= 0:
            raise ValueError(f'{where}: {key} must be > 0, got {cfg[key]!r}')


def _features(obj: Dict[str, Any], cfg: Dict[str, Any], where: str) -> np.ndarray:
    """(V, C) features of one object (float64)."""
    V, pose_type = cfg['num_joints'], cfg['pose_type']
    key = 'pose3d' if pose_type == '3dbp' else 'pose25d'
    if key not in obj:
        raise KeyError(f'{where}: object has no "{key}" (pose_type {pose_type}); run deepstream-bodypose-3d with '
                       f'--publish-pose {key}')
    a = np.asarray(obj[key], dtype=np.float64)
    if a.size != 4 * V:
        raise ValueError(f'{where}: "{key}" has {a.size} values, expected num_joints * 4 = {4 * V}')
    a = a.reshape(V, 4)
    zero = a[:, 3] == 0.0
    if pose_type == '3dbp':
        feat = (a[:, :3] - a[0, :3]) / float(cfg['focal_length'])
    else:
        feat = np.stack([a[:, 0] / float(cfg['frame_width']) - 0.5, a[:, 1] / float(cfg['frame_height']) - 0.5,
                         a[:, 2]], axis=1)
        if pose_type == '2dbp':
            feat = feat[:, :2]
    feat[zero] = 0.0
    return feat


def convert_for_client(pose_json: List[Dict[str, Any]], cfg: Dict[str, Any],
                       source: str = '<json>') -> Tuple[np.ndarray, List[Dict[str, Any]]]:
    """Windows to classify and the JSON annotated with their segment ids.

    Args:
        pose_json: The parsed deepstream-bodypose-3d ``--save-pose`` JSON (a list of batch objects).
        cfg: Options from :func:`load_convert_config`.
        source: File name for messages.

    Returns:
        (windows (S, C, sequence_length_max, V, 1) float32, annotated JSON) where every object carries
        ``segment_id`` (window index or -1) and ``action`` ``""``.
    """
    check_convert_config(cfg, source)
    if not isinstance(pose_json, list):
        raise ValueError(f'{source}: expected a JSON array of batch objects (deepstream-bodypose-3d --save-pose)')
    out = copy.deepcopy(pose_json)
    poses: Dict[Any, List[np.ndarray]] = {}
    refs: Dict[Any, List[Dict[str, Any]]] = {}
    for b, batch in enumerate(out):
        frames = batch.get('batches')
        if frames is None or 'num_frames_in_batch' not in batch:
            raise KeyError(f'{source}: batch {b} lacks "num_frames_in_batch" or "batches"')
        if batch['num_frames_in_batch'] != len(frames):
            raise ValueError(f'{source}: batch {b}: num_frames_in_batch={batch["num_frames_in_batch"]} but '
                             f'{len(frames)} frames are listed')
        for frame in frames:
            frame.pop('num_obj_meta', None)
            for obj in frame.get('objects', []):
                oid = obj['object_id']
                where = f'{source}: frame {frame.get("frame_num")} object {oid}'
                poses.setdefault(oid, []).append(_features(obj, cfg, where))
                refs.setdefault(oid, []).append(obj)
                obj['segment_id'] = -1
                obj['action'] = ''
    L, Tmax, Lmin = cfg['sequence_length'], cfg['sequence_length_max'], cfg['sequence_length_min']
    step = int(L * cfg['sequence_overlap'])
    C = 2 if cfg['pose_type'] == '2dbp' else 3
    windows: List[np.ndarray] = []
    for oid, seq in poses.items():
        n, start = len(seq), 0
        while n - start >= Lmin:
            end = start + L if n - start >= L else n
            win = np.zeros((1, C, Tmax, cfg['num_joints'], 1), dtype=np.float64)
            win[0, :, :end - start, :, 0] = np.stack(seq[start:end]).transpose(2, 0, 1)
            seg = len(windows)
            windows.append(win)
            if end - start > step:
                for pos in range(start + step, end):
                    refs[oid][pos]['segment_id'] = seg
            start += step
    arr = (np.concatenate(windows) if windows else np.zeros((0, C, Tmax, cfg['num_joints'], 1))).astype(np.float32)
    return arr, out


def label_frames(annotated: List[Dict[str, Any]], segment_labels: List[str]) -> List[Dict[str, Any]]:
    """Set ``action`` of every object to its segment's label and drop ``segment_id`` (in place; returned)."""
    for batch in annotated:
        for frame in batch.get('batches', []):
            for obj in frame.get('objects', []):
                seg = obj.pop('segment_id', -1)
                if 0 <= seg < len(segment_labels):
                    obj['action'] = segment_labels[seg]
    return annotated


def read_pose_json(path: str) -> List[Dict[str, Any]]:
    """Parse a deepstream-bodypose-3d JSON file (clear error for a truncated file of a crashed run)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'pose JSON not found: {path}')
    with open(path) as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f'{path}: not valid JSON ({e}); a crashed deepstream run leaves it unterminated') from e
