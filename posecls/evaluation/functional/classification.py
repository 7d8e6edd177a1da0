"""Classification statistics and TAO's evaluation table."""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from tabulate import tabulate


def confusion_matrix(labels: np.ndarray, preds: np.ndarray, num_classes: int) -> np.ndarray:
    """Integer confusion matrix; rows = ground truth, columns = prediction.

    Args:
        labels: (N,) int ground-truth ids in [0, num_classes).
        preds: (N,) int predicted ids.
        num_classes: Matrix size.

    Returns:
        np.ndarray: (num_classes, num_classes) int64.
    """
    labels = np.asarray(labels, dtype=np.int64)
    preds = np.asarray(preds, dtype=np.int64)
    return np.bincount(labels * num_classes + preds, minlength=num_classes**2).reshape(num_classes, num_classes)


def per_class_accuracy(cm: np.ndarray) -> np.ndarray:
    """Recall of each class (fraction); NaN for classes without samples."""
    support = cm.sum(axis=1)
    with np.errstate(invalid='ignore', divide='ignore'):
        return np.where(support > 0, np.diag(cm) / np.maximum(support, 1), np.nan)


def precision_recall_f1(cm: np.ndarray) -> Dict[str, np.ndarray]:
    """Per-class precision, recall, F1 and support of a confusion matrix (rows = ground truth).

    Precision is NaN for a class never predicted, recall (and F1) NaN for a class without samples.

    Returns:
        dict of (K,) arrays: ``precision``, ``recall``, ``f1`` (fractions) and ``support`` (int samples).
    """
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diag(cm)
    predicted, support = cm.sum(axis=0), cm.sum(axis=1)
    with np.errstate(invalid='ignore', divide='ignore'):
        precision = np.where(predicted > 0, tp / np.maximum(predicted, 1), np.nan)
        recall = np.where(support > 0, tp / np.maximum(support, 1), np.nan)
        denom = precision + recall
        f1 = np.where(denom > 0, 2 * precision * recall / np.where(denom > 0, denom, 1), 0.0)
    f1 = np.where(np.isnan(precision) | np.isnan(recall), np.where(support > 0, 0.0, np.nan), f1)
    return dict(precision=precision, recall=recall, f1=f1, support=support.astype(np.int64))


def most_confused_pairs(cm: np.ndarray, k: int = 5) -> List[Tuple[int, int, int]]:
    """The ``k`` largest off-diagonal cells: ``(true id, predicted id, count)``, count > 0, largest first."""
    cm = np.asarray(cm, dtype=np.int64)
    off = cm.copy()
    np.fill_diagonal(off, 0)
    order = np.argsort(-off, axis=None, kind='stable')[:max(k, 0)]
    pairs = [(int(i), int(j), int(off[i, j])) for i, j in zip(*np.unravel_index(order, off.shape))]
    return [p for p in pairs if p[2] > 0]


def topk_accuracy(logits: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Fraction of samples whose label is among the k highest logits (k capped at the class count)."""
    k = min(k, logits.shape[1])
    topk = np.argsort(-logits, axis=1, kind='stable')[:, :k]
    return float((topk == labels[:, None]).any(axis=1).mean())


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean softmax cross-entropy, computed in float64."""
    x = logits.astype(np.float64)
    x = x - x.max(axis=1, keepdims=True)
    logp = x - np.log(np.exp(x).sum(axis=1, keepdims=True))
    return float(-logp[np.arange(len(labels)), labels].mean())


def classification_summary(cm: np.ndarray, class_names: Optional[Sequence[str]] = None) -> Dict[str, object]:
    """TAO's evaluation numbers in percent.

    ``total`` = trace / sum; ``mean_class`` = mean per-class accuracy over classes
    that have samples (TAO divides by all classes and gets NaN when one is absent).

    Returns:
        dict with ``per_class`` ({name: % or None}), ``total`` and ``mean_class`` (%).
    """
    n = cm.shape[0]
    names = list(class_names) if class_names is not None else [str(i) for i in range(n)]
    pca = per_class_accuracy(cm) * 100
    total = float(np.trace(cm) / max(cm.sum(), 1) * 100)
    present = ~np.isnan(pca)
    mean_class = float(pca[present].mean()) if present.any() else float('nan')
    return dict(per_class={names[i]: (None if np.isnan(pca[i]) else float(pca[i])) for i in range(n)},
                total=total, mean_class=mean_class)


def format_tao_table(summary: Dict[str, object], extra_rows: Optional[List[tuple]] = None) -> str:
    """Render TAO's ``fancy_grid`` table: per-class, total and average class accuracy (%, 4 decimals)."""
    rows = [(f'Class accuracy: {name}', acc) for name, acc in summary['per_class'].items()]
    rows.append(('Total accuracy', summary['total']))
    rows.append(('Average class accuracy', summary['mean_class']))
    rows.extend(extra_rows or [])
    # format here: tabulate drops floatfmt for a column that also holds text
    cells = [(name, 'n/a (no samples)' if v is None else f'{v:.4f}') for name, v in rows]
    return tabulate(cells, headers=['Metric', 'Value (%)'], tablefmt='fancy_grid', disable_numparse=True,
                    colalign=('left', 'right'))
