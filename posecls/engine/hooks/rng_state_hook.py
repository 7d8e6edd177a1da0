"""RNGStateHook: save the Python/NumPy/torch RNG states in checkpoints and restore them on resume."""
import random
from typing import Any, Dict, Optional

import numpy as np
import torch
from mmengine.hooks import Hook

from posecls.registry import HOOKS


def capture_rng_state() -> Dict[str, Any]:
    """Current RNG states in a form ``torch.load(weights_only=True)`` accepts."""
    np_state = np.random.get_state()
    state = dict(python=random.getstate(),
                 numpy=(np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), int(np_state[2]),
                        int(np_state[3]), float(np_state[4])),
                 torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: Dict[str, Any]) -> None:
    """Set the RNG states captured by :func:`capture_rng_state`."""
    version, internal, gauss = state['python']
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state['numpy']
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Make training randomness a function of the epoch, so resume is bit-exact.

    At the end of every training epoch the RNG states are snapshotted (and go
    into the checkpoint written right after); at the start of the next epoch
    they are restored from that snapshot. Validation in between therefore
    cannot shift training randomness, and a run resumed from a checkpoint
    continues with exactly the states the uninterrupted run had. mmengine
    restores only the seed.
    """

    priority = 'VERY_HIGH'  # snapshot before CheckpointHook (VERY_LOW) saves

    def __init__(self) -> None:
        self._snapshot: Optional[Dict[str, Any]] = None

    def after_train_epoch(self, runner) -> None:
        """Snapshot the RNG states at the end of the epoch."""
        self._snapshot = capture_rng_state()

    def before_train_epoch(self, runner) -> None:
        """Restore the snapshot of the previous epoch's end (or of the resumed checkpoint)."""
        if self._snapshot is not None:
            restore_rng_state(self._snapshot)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Store the snapshot (or the current states) in the checkpoint."""
        checkpoint['rng_state'] = self._snapshot if self._snapshot is not None else capture_rng_state()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """On resume (not on a plain weight load) adopt the checkpoint's states."""
        if getattr(runner, 'is_resuming', False) and 'rng_state' in checkpoint:
            self._snapshot = checkpoint['rng_state']
