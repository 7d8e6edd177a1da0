"""Prediction outputs, one module for every command: top-1 class names and TAO-Triton's ranked lines.

Used by tools/inference.py, ``posecls inference``, the Triton client (``results.txt``)
and DeepStream segment labelling (``results.json``'s ``action``). numpy only.
"""
from typing import Iterable, Iterator, List, Optional, Sequence

import numpy as np

from posecls.utils.atomic_io import atomic_open


def _names(num_classes: int, classes: Optional[Sequence[str]]) -> Sequence[str]:
    if classes is None:
        return [str(i) for i in range(num_classes)]
    if len(classes) != num_classes:
        raise ValueError(f'{len(classes)} class names for logits of {num_classes} classes')
    return classes


def top1_labels(logits: np.ndarray, classes: Optional[Sequence[str]] = None) -> List[str]:
    """Class name of the largest logit of each row (the first of ties, like Triton's classification).

    Args:
        logits: (N, K) scores.
        classes: K class names in index order (None: the indices as strings).

    Raises:
        ValueError: ``logits`` is not 2-D or ``classes`` has another length than K.
    """
    logits = np.asarray(logits)
    if logits.ndim != 2:
        raise ValueError(f'logits must be (N, K), got shape {logits.shape}')
    names = _names(logits.shape[1], classes)
    return [names[i] for i in np.argmax(logits, axis=1).tolist()]


def format_ranked_line(index: int, logits: np.ndarray, classes: Optional[Sequence[str]] = None) -> str:
    """TAO-Triton's line: ``idx, s0(i0)=label0, s1(i1)=label1, ...`` (logits, descending, all classes)."""
    logits = np.asarray(logits)
    order = np.argsort(-logits, kind='stable')
    names = _names(len(logits), classes)
    return ', '.join([str(index)] + [f'{float(logits[i]):.4f}({int(i)})={names[i]}' for i in order])


def ranked_lines(logits: np.ndarray, classes: Optional[Sequence[str]] = None) -> Iterator[str]:
    """:func:`format_ranked_line` of every row of (N, K) logits."""
    for i, row in enumerate(np.asarray(logits)):
        yield format_ranked_line(i, row, classes)


def write_lines(path: str, lines: Iterable[str]) -> None:
    """Write one line per entry (truncating any existing file), atomically."""
    with atomic_open(path, 'w') as f:
        for line in lines:
            f.write(f'{line}\n')


def write_ranked_scores(path: str, logits: np.ndarray, classes: Optional[Sequence[str]] = None) -> None:
    """Write TAO-Triton's ranked score lines for (N, K) logits."""
    write_lines(path, ranked_lines(logits, classes))


__all__ = ['top1_labels', 'format_ranked_line', 'ranked_lines', 'write_lines', 'write_ranked_scores']
