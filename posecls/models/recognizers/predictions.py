"""Test-time clip averaging and prediction records: the one place every recognizer turns logits into predictions.

A sample may be classified as several clips (``UniformSample(num_clips > 1)`` gives
inputs (N, clips, C, T, V, M)). Like MMAction2's ``BaseHead.average_clip``, the
clips are merged here only, for the PyTorch recognizer and for deployed models
alike, so a checkpoint and its ONNX / TensorRT export produce the same scores:

- ``pred_logits``: mean of the clips' logits (what ``mode='tensor'`` returns and
  what TAO's ``fc_pred`` is for one clip);
- ``pred_score``: ``average_clips='prob'``: mean of the clips' softmax; ``'score'``:
  softmax of the mean logits (equal to ``'prob'`` for one clip);
- ``pred_label``: argmax of ``pred_score``.
"""
from typing import List, Optional, Tuple

import torch

from posecls.structures import PoseDataSample

AVERAGE_CLIPS = ('prob', 'score')


def check_average_clips(mode: str) -> str:
    """Validate an ``average_clips`` value.

    Raises:
        ValueError: not one of :data:`AVERAGE_CLIPS`.
    """
    if mode not in AVERAGE_CLIPS:
        raise ValueError(f'average_clips must be one of {AVERAGE_CLIPS}, got {mode!r}')
    return mode


def average_clips(clip_logits: torch.Tensor, mode: str = 'prob') -> Tuple[torch.Tensor, torch.Tensor]:
    """Merge per-clip logits into per-sample logits and scores.

    Args:
        clip_logits: (N, clips, K) logits, one row per test clip.
        mode: ``'prob'`` (mean of per-clip softmax) or ``'score'`` (softmax of mean logits).

    Returns:
        (logits (N, K), scores (N, K)), float32 like the input.
    """
    check_average_clips(mode)
    if clip_logits.dim() != 3:
        raise ValueError(f'clip logits must be (N, clips, K), got shape {tuple(clip_logits.shape)}')
    logits = clip_logits.mean(dim=1)
    scores = clip_logits.softmax(dim=-1).mean(dim=1) if mode == 'prob' else logits.softmax(dim=-1)
    return logits, scores


def pack_predictions(clip_logits: torch.Tensor, mode: str = 'prob',
                     data_samples: Optional[List[PoseDataSample]] = None) -> List[PoseDataSample]:
    """Fill ``pred_logits``, ``pred_score`` and ``pred_label`` of one data sample per row.

    Args:
        clip_logits: (N, clips, K) logits.
        mode: See :func:`average_clips`.
        data_samples: Records to fill (new ones when None).

    Returns:
        The N filled :class:`PoseDataSample`.
    """
    logits, scores = average_clips(clip_logits.detach(), mode)
    if data_samples is None:
        data_samples = [PoseDataSample() for _ in range(logits.size(0))]
    if len(data_samples) != logits.size(0):
        raise ValueError(f'{len(data_samples)} data samples for {logits.size(0)} predictions')
    for ds, lg, sc in zip(data_samples, logits, scores):
        ds.pred_logits = lg
        ds.pred_score = sc
        ds.pred_label = sc.argmax()
    return data_samples


__all__ = ['AVERAGE_CLIPS', 'average_clips', 'pack_predictions', 'check_average_clips']
