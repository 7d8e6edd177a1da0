"""Weighted fusion of several models' predictions (multi-stream ensembles) and their accuracy.

Reads the dumps written by ``tools/test.py CONFIG CKPT --dump FILE`` (``.npz`` or ``.json``), checks that
they cover the same samples with the same labels, and adds their scores (or logits) with weights.
``tools/misc/fuse_scores.py`` (:mod:`posecls.tools.fuse_scores`) is the command.
"""

import json
import os.path as osp
from typing import Dict, Optional, Sequence

import numpy as np

from posecls.evaluation.functional import confusion_matrix, per_class_accuracy, topk_accuracy

FUSE_INPUTS = ('scores', 'logits')


def load_dump(path: str) -> Dict[str, np.ndarray]:
    """Read a ``tools/test.py --dump`` file.

    Args:
        path: ``.npz`` (arrays ``logits``, ``scores``, ``labels``, ``names``) or
            ``.json`` (list of per-sample records). ``.pkl`` dumps are refused:
            posecls never unpickles prediction files.

    Returns:
        dict with ``logits`` and ``scores`` (N, K) float64, ``labels`` (N,) int64, ``names`` (N,) str.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'score dump not found: {path}')
    suffix = osp.splitext(path)[1]
    if suffix == '.npz':
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in ('logits', 'scores', 'labels', 'names') if k not in z.files]
            if missing:
                raise ValueError(f'{path}: missing arrays {missing}; expected a tools/test.py --dump .npz '
                                 f'(logits, scores, labels, names), found {z.files}')
            out = {k: z[k] for k in ('logits', 'scores', 'labels', 'names')}
    elif suffix == '.json':
        with open(path) as f:
            rows = json.load(f)
        if not isinstance(rows, list) or not rows:
            raise ValueError(f'{path}: expected a non-empty JSON list of tools/test.py --dump records')
        try:
            out = dict(logits=np.array([r['pred_logits'] for r in rows]),
                       scores=np.array([r['pred_score'] for r in rows]),
                       labels=np.array([r['gt_label'] for r in rows]),
                       names=np.array([r['sample_name'] for r in rows]))
        except KeyError as e:
            raise ValueError(f'{path}: record without field {e}; expected pred_logits, pred_score, gt_label, '
                             'sample_name') from e
    else:
        raise ValueError(f'{path}: unsupported dump format {suffix!r}; write .npz or .json with tools/test.py --dump '
                         '(.pkl dumps are not read: unpickling untrusted files can run code)')
    logits, scores = out['logits'].astype(np.float64), out['scores'].astype(np.float64)
    if logits.ndim != 2 or logits.shape != scores.shape or len(out['labels']) != len(logits):
        raise ValueError(f'{path}: inconsistent shapes logits {logits.shape}, scores {scores.shape}, '
                         f'labels {out["labels"].shape}')
    return dict(logits=logits, scores=scores, labels=out['labels'].astype(np.int64),
                names=out['names'].astype(str))


def accuracy_report(scores: np.ndarray, labels: np.ndarray) -> Dict[str, float]:
    """Top-1, top-5 and mean class accuracy (fractions; mean over classes that have samples)."""
    num_classes = scores.shape[1]
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(f'labels must be in [0, {num_classes}) to compute accuracy, got {labels.min()}..'
                         f'{labels.max()} (unlabelled dumps can be fused but not scored)')
    cm = confusion_matrix(labels, scores.argmax(axis=1), num_classes)
    pca = per_class_accuracy(cm)
    return dict(top1=topk_accuracy(scores, labels, 1), top5=topk_accuracy(scores, labels, 5),
                mean_class=float(np.nanmean(pca)))


def fuse(dumps: Sequence[Dict[str, np.ndarray]], weights: Optional[Sequence[float]] = None,
         use: str = 'scores', paths: Optional[Sequence[str]] = None) -> np.ndarray:
    """Weighted sum of the dumps' scores (or logits), after checking they describe the same samples.

    Samples are matched by name, so dumps written in a different order fuse correctly.

    Args:
        dumps: Outputs of :func:`load_dump`.
        weights: One weight per dump (default: all 1).
        use: ``'scores'`` (softmax probabilities, MMAction2's fusion) or ``'logits'`` (CTR-GCN's ensemble).
        paths: File names for error messages.

    Returns:
        np.ndarray: (N, K) fused values in the order of the first dump.
    """
    paths = list(paths) if paths is not None else [f'dump {i}' for i in range(len(dumps))]
    if use not in FUSE_INPUTS:
        raise ValueError(f'use must be one of {FUSE_INPUTS}, got {use!r}')
    if not dumps:
        raise ValueError('no dumps to fuse')
    weights = [1.0] * len(dumps) if weights is None else [float(w) for w in weights]
    if len(weights) != len(dumps):
        raise ValueError(f'{len(weights)} weights for {len(dumps)} dumps: give one weight per dump')
    if any(w < 0 for w in weights) or not any(w > 0 for w in weights):
        raise ValueError(f'weights must be >= 0 and not all 0, got {weights}')
    ref = dumps[0]
    if len(set(ref['names'].tolist())) != len(ref['names']):
        raise ValueError(f'{paths[0]}: sample names are not unique; cannot match samples across dumps')
    order = {n: i for i, n in enumerate(ref['names'].tolist())}
    fused = np.zeros_like(ref[use])
    for d, w, p in zip(dumps, weights, paths):
        if d[use].shape != ref[use].shape:
            raise ValueError(f'{p}: {d[use].shape[0]} samples x {d[use].shape[1]} classes, but {paths[0]} has '
                             f'{ref[use].shape[0]} x {ref[use].shape[1]}')
        try:
            idx = np.array([order[n] for n in d['names'].tolist()])
        except KeyError as e:
            raise ValueError(f'{p}: sample {e} is not in {paths[0]}; the dumps must cover the same samples') from e
        if len(set(idx.tolist())) != len(idx):
            raise ValueError(f'{p}: sample names are not unique; cannot match samples across dumps')
        if not np.array_equal(ref['labels'][idx], d['labels']):
            bad = int(np.flatnonzero(ref['labels'][idx] != d['labels'])[0])
            raise ValueError(f'{p}: label of sample {str(d["names"][bad])!r} is {d["labels"][bad]}, but {paths[0]} '
                             f'says {ref["labels"][idx][bad]}')
        fused[idx] += w * d[use]
    return fused


__all__ = ['FUSE_INPUTS', 'load_dump', 'accuracy_report', 'fuse']
