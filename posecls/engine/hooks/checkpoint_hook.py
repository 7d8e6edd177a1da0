"""PoseCheckpointHook: TAO-named, atomic checkpoints plus ``pc_model_latest.pth``, saved after validation."""
import os.path as osp
from typing import Optional, Tuple

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook

from posecls.registry import HOOKS
from posecls.utils.atomic_io import atomic_symlink

LATEST_NAME = 'pc_model_latest.pth'


def validates_after_epoch(runner, epoch: int) -> bool:
    """Whether mmengine's epoch loop validates after 1-based ``epoch`` (its rule in ``EpochBasedTrainLoop.run``)."""
    loop = runner.train_loop
    if getattr(runner, '_val_loop', None) is None or not hasattr(loop, 'val_interval'):
        return False
    return epoch >= loop.val_begin and (epoch % loop.val_interval == 0 or epoch == loop.max_epochs)


@HOOKS.register_module()
class PoseCheckpointHook(CheckpointHook):
    """Save ``model_epoch_XXX.pth`` every ``interval`` epochs and keep ``pc_model_latest.pth`` current.

    Differences from mmengine's CheckpointHook:
        * an epoch that validates is saved *after* its validation (mmengine saves before it),
          so the checkpoint holds the epoch's metrics and the schedulers' reaction to them
          (AutoReduce): a run killed during validation resumes from the previous epoch and
          redoes this one, never skipping a validation;
        * files are written atomically (temporary file + fsync + rename through
          the ``atomic_local`` file backend), so a crash never leaves a truncated checkpoint;
        * TAO's names: ``model_epoch_{epoch:03d}.pth`` (1-based epoch);
        * ``pc_model_latest.pth`` after every epoch: a relative symlink to the
          numbered file when one was written this epoch, otherwise a full
          checkpoint of its own (``save_latest_every_epoch``), so an
          interrupted run resumes from its last finished epoch. PoseRunner
          auto-resumes from it.

    Args:
        interval: Save a numbered checkpoint every ``interval`` epochs.
        filename_tmpl: Numbered checkpoint name. Defaults to ``'model_epoch_{:03d}.pth'``.
        latest_name: Name of the latest link. Defaults to ``'pc_model_latest.pth'``.
        save_latest_every_epoch: Refresh the latest checkpoint after every epoch.
        backend_args: mmengine file backend; defaults to the atomic local backend.
        **kwargs: Other :class:`mmengine.hooks.CheckpointHook` arguments
            (``max_keep_ckpts``, ``save_best``, ``save_last``, ...).
    """

    def __init__(self, interval: int = 1, filename_tmpl: str = 'model_epoch_{:03d}.pth',
                 latest_name: str = LATEST_NAME, save_latest_every_epoch: bool = True,
                 backend_args: Optional[dict] = None, **kwargs) -> None:
        if backend_args is None:
            backend_args = dict(backend='atomic_local')
        kwargs.setdefault('by_epoch', True)
        if not kwargs['by_epoch']:
            raise ValueError('PoseCheckpointHook saves by epoch (TAO semantics); use by_epoch=True')
        super().__init__(interval=interval, filename_tmpl=filename_tmpl, backend_args=backend_args, **kwargs)
        self.latest_name = latest_name
        self.save_latest_every_epoch = save_latest_every_epoch
        self._due: Optional[Tuple[int, bool, int]] = None  # (1-based epoch, numbered file due, iteration)

    def after_train_epoch(self, runner) -> None:
        """Note what the epoch saves; save now unless a validation follows."""
        epoch = runner.epoch + 1
        numbered = self.every_n_epochs(runner, self.interval, self.save_begin) or (
            self.save_last and self.is_last_train_epoch(runner))
        self._due = (epoch, numbered, runner.iter)
        if not validates_after_epoch(runner, epoch):
            self._save_due(runner)

    def after_val_epoch(self, runner, metrics) -> None:
        """mmengine's best-checkpoint logic, then the epoch's deferred checkpoint."""
        super().after_val_epoch(runner, metrics)
        if self._due is not None and self._due[0] == runner.epoch:
            self._save_due(runner)

    def _save_due(self, runner) -> None:
        epoch, numbered, iteration = self._due
        self._due = None
        meta = dict(epoch=epoch, iter=iteration)
        if numbered:
            runner.logger.info(f'Saving checkpoint at {epoch} epochs')
            self._save_checkpoint_with_step(runner, epoch, meta=meta)
            if is_main_process():
                atomic_symlink(osp.basename(self.last_ckpt), osp.join(self.out_dir, self.latest_name))
        elif self.save_latest_every_epoch:
            runner.save_checkpoint(self.out_dir, self.latest_name, save_optimizer=self.save_optimizer,
                                   save_param_scheduler=self.save_param_scheduler, meta=meta, by_epoch=True,
                                   backend_args=self.backend_args)
