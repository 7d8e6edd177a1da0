"""Output formats shared by inference, the TAO tasks and the Triton client."""
from typing import Iterable, List, Optional, Sequence

import numpy as np

from posecls.utils.atomic_io import atomic_open


def format_ranked_line(index: int, logits: np.ndarray, classes: Optional[Sequence[str]] = None) -> str:
    """TAO-Triton's line: ``idx, s0(i0)=label0, s1(i1)=label1, ...`` (logits, descending, all classes)."""
    order = np.argsort(-np.asarray(logits), kind='stable')
    names = classes if classes is not None else [str(i) for i in range(len(logits))]
    parts = [f'{float(logits[i]):.4f}({int(i)})={names[i]}' for i in order]
    return ', '.join([str(index)] + parts)


def write_lines(path: str, lines: Iterable[str]) -> None:
    """Write one line per entry (truncating any existing file), atomically."""
    with atomic_open(path, 'w') as f:
        for line in lines:
            f.write(f'{line}\n')


def write_ranked_scores(path: str, logits: np.ndarray, classes: Optional[Sequence[str]] = None) -> None:
    """Write TAO-Triton's ranked score lines for (N, K) logits."""
    write_lines(path, (format_ranked_line(i, row, classes) for i, row in enumerate(np.asarray(logits))))


def class_names_of(logits: np.ndarray, classes: Optional[Sequence[str]]) -> List[str]:
    """Argmax class name per row."""
    ids = np.asarray(logits).argmax(axis=1)
    return [str(i) if classes is None else classes[i] for i in ids]
