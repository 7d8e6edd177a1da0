"""SafeStateHook: store the message hub in checkpoints as plain tensors and numbers."""
from typing import Any

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.logging import HistoryBuffer

from posecls.registry import HOOKS

_BUFFER_TAG = '__history_buffer__'


def to_plain(obj: Any) -> Any:
    """Replace HistoryBuffers and numpy values by tensors, lists and Python scalars (recursively)."""
    if isinstance(obj, HistoryBuffer):
        log, count = obj.data
        return {_BUFFER_TAG: True, 'log_history': torch.from_numpy(np.asarray(log, dtype=np.float64)),
                'count_history': torch.from_numpy(np.asarray(count, dtype=np.float64)),
                'max_length': int(obj.max_length)}
    if isinstance(obj, dict):
        return type(obj)((k, to_plain(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_plain(v) for v in obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return obj


def from_plain(obj: Any) -> Any:
    """Inverse of :func:`to_plain` for HistoryBuffers."""
    if isinstance(obj, dict):
        if obj.get(_BUFFER_TAG):
            return HistoryBuffer(obj['log_history'].tolist(), obj['count_history'].tolist(), obj['max_length'])
        return type(obj)((k, from_plain(v)) for k, v in obj.items())
    if isinstance(obj, list):
        return [from_plain(v) for v in obj]
    return obj


@HOOKS.register_module()
class SafeStateHook(Hook):
    """Keep checkpoints loadable with ``torch.load(weights_only=True)``.

    mmengine pickles the message hub's HistoryBuffers, whose statistics methods
    need ``builtins.getattr`` to unpickle -- allow-listing that would let a
    crafted file call arbitrary methods. This hook writes the message hub as
    plain tensors and numbers and rebuilds the buffers when a checkpoint is
    loaded. PoseRunner always registers it.
    """

    priority = 'VERY_HIGH'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Convert the message hub (and numpy values in meta) to plain data."""
        if 'message_hub' in checkpoint:
            checkpoint['message_hub'] = to_plain(checkpoint['message_hub'])
        if 'meta' in checkpoint:
            checkpoint['meta'] = to_plain(checkpoint['meta'])

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Rebuild HistoryBuffers before the runner restores the message hub."""
        if 'message_hub' in checkpoint:
            checkpoint['message_hub'] = from_plain(checkpoint['message_hub'])
