"""PoseCheckpointHook: TAO-named, atomically written checkpoints plus ``pc_model_latest.pth``."""
import os.path as osp
from typing import Optional

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook

from posecls.registry import HOOKS
from posecls.utils.atomic_io import atomic_symlink

LATEST_NAME = 'pc_model_latest.pth'


@HOOKS.register_module()
class PoseCheckpointHook(CheckpointHook):
    """Save ``model_epoch_XXX.pth`` every ``interval`` epochs and keep ``pc_model_latest.pth`` current.

    Differences from mmengine's CheckpointHook:
        * files are written atomically (temporary file + fsync + rename through
          the ``atomic_local`` file backend), so a crash never leaves a
          truncated checkpoint;
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
        self._saved_epoch = -1

    def _save_checkpoint(self, runner) -> None:
        super()._save_checkpoint(runner)
        self._saved_epoch = runner.epoch
        if is_main_process():
            atomic_symlink(osp.basename(self.last_ckpt), osp.join(self.out_dir, self.latest_name))

    def after_train_epoch(self, runner) -> None:
        """Save the numbered checkpoint when due, then refresh the latest one."""
        super().after_train_epoch(runner)
        if self._saved_epoch == runner.epoch or not self.save_latest_every_epoch:
            return
        runner.save_checkpoint(
            self.out_dir, self.latest_name, save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler, meta=dict(epoch=runner.epoch + 1, iter=runner.iter),
            by_epoch=True, backend_args=self.backend_args)
