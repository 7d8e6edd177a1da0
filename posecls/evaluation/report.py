"""Evaluation report: TAO's table on stdout, metrics JSON, confusion matrix CSV and PNG."""
import csv
import io
import json
import os
import os.path as osp
from typing import Any, Dict, Optional, Sequence

import numpy as np

from posecls.evaluation.functional import classification_summary, format_tao_table
from posecls.utils.atomic_io import atomic_open


def plot_confusion_matrix(cm: np.ndarray, class_names: Sequence[str], path: str) -> None:
    """Save a row-normalised confusion-matrix heat map with counts as a PNG."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    n = len(class_names)
    with np.errstate(invalid='ignore', divide='ignore'):
        norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    size = max(4.0, 0.6 * n + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    im = ax.imshow(norm, cmap='Blues', vmin=0, vmax=1)
    ax.set_xticks(range(n), class_names, rotation=45, ha='right')
    ax.set_yticks(range(n), class_names)
    ax.set_xlabel('predicted')
    ax.set_ylabel('ground truth')
    if n <= 30:
        for i in range(n):
            for j in range(n):
                ax.text(j, i, str(int(cm[i, j])), ha='center', va='center',
                        color='white' if norm[i, j] > 0.5 else 'black', fontsize=8)
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format='png', dpi=100)
    plt.close(fig)
    with atomic_open(path) as f:
        f.write(buf.getvalue())


def write_evaluation_report(metrics: Dict[str, Any], class_names: Optional[Sequence[str]], out_dir: str,
                            prefix: str = '', echo: bool = True) -> Dict[str, Any]:
    """Print TAO's table and write ``<prefix>metrics.json``, ``confusion_matrix.csv`` and ``.png``.

    Args:
        metrics: Output of a test run with ``PoseAccMetric(with_confusion_matrix=True)``.
        class_names: Names in class-id order (None: ids).
        out_dir: Folder for the files.
        prefix: File name prefix.
        echo: Print the table.

    Returns:
        dict with ``table`` (str), ``summary`` and the written ``paths``.
    """
    if 'confusion_matrix' not in metrics:
        raise KeyError('metrics have no confusion_matrix: evaluate with PoseAccMetric(with_confusion_matrix=True)')
    cm = np.asarray(metrics['confusion_matrix'], dtype=np.int64)
    names = list(class_names) if class_names is not None else [str(i) for i in range(cm.shape[0])]
    if len(names) != cm.shape[0]:
        raise ValueError(f'{len(names)} class names for a {cm.shape[0]}-class confusion matrix')
    summary = classification_summary(cm, names)
    extra = [(f'Top-{k[len("acc/top"):]} accuracy', 100 * v) for k, v in metrics.items()
             if k.startswith('acc/top') and k != 'acc/top1']
    table = format_tao_table(summary, extra)
    if echo:
        print(table, flush=True)
    os.makedirs(out_dir, exist_ok=True)
    paths = dict(json=osp.join(out_dir, f'{prefix}metrics.json'),
                 csv=osp.join(out_dir, f'{prefix}confusion_matrix.csv'),
                 png=osp.join(out_dir, f'{prefix}confusion_matrix.png'))
    record = dict(per_class_accuracy=summary['per_class'], total_accuracy=summary['total'],
                  mean_class_accuracy=summary['mean_class'],
                  topk_accuracy={k: 100 * v for k, v in metrics.items() if k.startswith('acc/top')},
                  loss=metrics.get('loss'), kpi=dict(accuracy=round(summary['total'], 2),
                                                     avg_accuracy=round(summary['mean_class'], 2)),
                  confusion_matrix=cm.tolist(), classes=names)
    with atomic_open(paths['json'], 'w') as f:
        json.dump(record, f, indent=2)
    with atomic_open(paths['csv'], 'w') as f:
        w = csv.writer(f)
        w.writerow(['class'] + names)
        for name, row in zip(names, cm.tolist()):
            w.writerow([name] + row)
    plot_confusion_matrix(cm, names, paths['png'])
    return dict(table=table, summary=summary, paths=paths)
