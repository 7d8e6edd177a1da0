"""KillAt: a hook that SIGKILLs its own training process once, at a chosen point (tests of resume under faults).

Used through ``custom_imports=dict(imports=['helpers.fault_points'])`` and
``custom_hooks=[dict(type='KillAt', point=..., epoch=..., marker=...)]``: the first run
dies at the point (the marker file records that it did), the same command run again
finds the marker and trains to the end. Nothing is mocked: the process is killed with
signal 9 exactly as a user's ``kill -9`` or an out-of-memory kill would.
"""
import os
import os.path as osp
import signal

from mmengine.hooks import Hook

from posecls.registry import HOOKS

POINTS = ('mid_epoch', 'during_val', 'mid_checkpoint_write')


def _die(marker: str) -> None:
    with open(marker, 'w') as f:
        f.write('killed\n')
    os.kill(os.getpid(), signal.SIGKILL)


@HOOKS.register_module()
class KillAt(Hook):
    """Kill the process at ``point`` of 1-based ``epoch``, unless ``marker`` exists.

    Args:
        point: ``'mid_epoch'`` (after the second training iteration), ``'during_val'`` (after the
            first validation iteration), ``'mid_checkpoint_write'`` (the numbered checkpoint's
            temporary file is written and fsync'ed, the rename has not happened).
        epoch: 1-based epoch.
        marker: File created just before the kill.
    """

    priority = 'VERY_LOW'

    def __init__(self, point: str, epoch: int, marker: str) -> None:
        if point not in POINTS:
            raise ValueError(f'point must be one of {POINTS}, got {point!r}')
        self.point, self.epoch, self.marker = point, epoch, marker

    def _armed(self, runner, epoch: int) -> bool:
        return not osp.exists(self.marker) and epoch == self.epoch

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if self.point == 'mid_epoch' and batch_idx == 1 and self._armed(runner, runner.epoch + 1):
            _die(self.marker)

    def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if self.point == 'during_val' and batch_idx == 0 and self._armed(runner, runner.epoch):
            _die(self.marker)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self.point != 'mid_checkpoint_write' or not self._armed(runner, checkpoint['meta']['epoch']):
            return
        import posecls.utils.atomic_io as atomic_io
        real_replace, marker = atomic_io.os.replace, self.marker

        class _KillingOs:  # atomic_io's view of `os`: everything real, except that the rename never happens
            def __getattr__(self, name):
                return getattr(os, name)

            @staticmethod
            def replace(src, dst):
                if str(dst).endswith('.pth'):
                    _die(marker)
                return real_replace(src, dst)
        atomic_io.os = _KillingOs()
