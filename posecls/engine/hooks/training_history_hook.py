"""TrainingHistoryHook: every epoch's own numbers, kept across resumes (``<work_dir>/training_history.json``)."""
import json
import os.path as osp
from typing import Any, Dict, List, Optional

from mmengine.dist import is_main_process
from mmengine.hooks import Hook

from posecls.registry import HOOKS
from posecls.utils.atomic_io import atomic_open

HISTORY_FILE = 'training_history.json'


def _plain(value: Any) -> Any:
    if hasattr(value, 'item') and getattr(value, 'ndim', 1) == 0:
        return value.item()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


@HOOKS.register_module()
class TrainingHistoryHook(Hook):
    """One record per finished epoch: ``epoch`` (1-based), ``lr`` (learning rate of the epoch's first
    iteration, first parameter group), ``train_loss`` (mean over the epoch's iterations) and ``val``
    (that epoch's validation metrics, when it validated).

    The list is stored in every checkpoint (``meta.training_history``) and restored on resume, so a
    resumed run's history equals the uninterrupted run's; it is also written atomically to
    ``<work_dir>/training_history.json`` after every epoch (``posecls report`` reads it). These are the
    epoch's own values, unlike mmengine's log processor, which averages keys named ``loss`` over a window.
    PoseRunner always registers it.
    """

    priority = 'NORMAL'

    def __init__(self) -> None:
        self.history: List[Dict[str, Any]] = []
        self._training = False
        self._losses: List[float] = []
        self._lr: Optional[float] = None

    def before_train(self, runner) -> None:
        """Start recording validation results as part of the epochs."""
        self._training = True

    def after_train(self, runner) -> None:
        """A later ``runner.val()`` is not an epoch of the run."""
        self._training = False

    def before_train_epoch(self, runner) -> None:
        """Reset the epoch's accumulators."""
        self._losses, self._lr = [], None

    def after_train_iter(self, runner, batch_idx: int, data_batch: Any = None, outputs: Any = None) -> None:
        """Keep the iteration's loss and the epoch's first learning rate."""
        if self._lr is None:
            lrs = runner.optim_wrapper.get_lr().get('lr')
            self._lr = float(lrs[0]) if lrs else None
        if outputs is not None and 'loss' in outputs:
            self._losses.append(float(outputs['loss'].detach()) if hasattr(outputs['loss'], 'detach') else
                                float(outputs['loss']))

    def after_train_epoch(self, runner) -> None:
        """Record the epoch (and write the file when no validation follows)."""
        epoch = runner.epoch + 1
        record = dict(epoch=epoch, lr=self._lr,
                      train_loss=sum(self._losses) / len(self._losses) if self._losses else None)
        self.history = [r for r in self.history if r['epoch'] < epoch] + [record]
        self._write(runner)

    def after_val_epoch(self, runner, metrics: Optional[Dict[str, Any]] = None) -> None:
        """Attach the validation metrics to the epoch they validate."""
        if not self._training or not self.history or not metrics:
            return
        if self.history[-1]['epoch'] == runner.epoch:
            self.history[-1]['val'] = _plain(dict(metrics))
            self._write(runner)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Store the history in the checkpoint."""
        checkpoint.setdefault('meta', {})['training_history'] = _plain(self.history)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """On resume, continue the resumed run's history."""
        if getattr(runner, 'is_resuming', False):
            self.history = list(checkpoint.get('meta', {}).get('training_history') or [])

    def _write(self, runner) -> None:
        if is_main_process():
            with atomic_open(osp.join(runner.work_dir, HISTORY_FILE), 'w') as f:
                json.dump(self.history, f, indent=1)
