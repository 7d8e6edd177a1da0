"""Checks on the sequences that are about to be classified.

A sample holding NaN or an infinity has no meaningful class: every place that
classifies (the recognizer's data preprocessor, every deployed backend, the
Triton model) refuses it with :class:`NonFiniteInputError` naming the sample,
so no class is ever reported for it. numpy and torch arrays are both accepted
(no torch import here: the backends run without it).
"""
from typing import Any, List

import numpy as np


class NonFiniteInputError(ValueError):
    """A sequence to classify holds NaN or +-inf.

    Attributes:
        indices: Indices (in the caller's numbering) of the non-finite samples.
    """

    def __init__(self, message: str, indices: List[int]) -> None:
        super().__init__(message)
        self.indices = indices


def non_finite_samples(batch: Any) -> List[int]:
    """Indices along axis 0 of the samples of ``batch`` that hold a NaN or an infinity.

    Args:
        batch: (N, ...) numpy array or torch tensor.

    Returns:
        Sorted sample indices (empty when every value is finite).
    """
    if hasattr(batch, 'detach'):  # torch.Tensor
        if not batch.is_floating_point():
            return []
        bad = ~batch.detach().reshape(batch.shape[0], -1).isfinite().all(dim=1)
        return bad.nonzero().flatten().cpu().tolist()
    arr = np.asarray(batch)
    if not np.issubdtype(arr.dtype, np.floating) or arr.shape[0] == 0:
        return []
    bad = ~np.isfinite(arr.reshape(arr.shape[0], -1)).all(axis=1)
    return np.flatnonzero(bad).tolist()


def check_finite(batch: Any, where: str, offset: int = 0) -> None:
    """Raise when any sample of ``batch`` holds NaN or +-inf.

    Args:
        batch: (N, ...) numpy array or torch tensor.
        where: What is being classified, for the message (a file, a backend, a request).
        offset: Index of ``batch[0]`` in the caller's numbering (a batch inside a larger input).

    Raises:
        NonFiniteInputError: naming the first bad sample index and how many there are.
    """
    bad = non_finite_samples(batch)
    if bad:
        idx = [offset + i for i in bad]
        more = f' ({len(idx)} samples: {idx[:8]}{" ..." if len(idx) > 8 else ""})' if len(idx) > 1 else ''
        raise NonFiniteInputError(f'{where}: sample {idx[0]} holds NaN or infinite values{more}; refusing to '
                                  'classify it (check the converter / tracker output for that sequence)', idx)


__all__ = ['NonFiniteInputError', 'non_finite_samples', 'check_finite']
