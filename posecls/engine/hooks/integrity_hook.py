"""CheckpointIntegrityHook: every checkpoint carries its run id and a content hash verified on load."""
from mmengine.hooks import Hook

from posecls.registry import HOOKS
from posecls.utils.checkpoint import seal_checkpoint


@HOOKS.register_module()
class CheckpointIntegrityHook(Hook):
    """The last step before a checkpoint is written (priority LOWEST, after every other hook edited it).

    * ``meta.run_id``: the run that wrote it (a new id at a fresh start, kept by a resume), so a
      work dir can tell its own checkpoints from another run's (never overwritten, see
      :class:`posecls.engine.PoseRunner`);
    * the content hash (:func:`posecls.utils.checkpoint.seal_checkpoint`) that
      ``load_checkpoint_file`` verifies: a flipped byte is an error, never silently loaded.

    PoseRunner always registers it.
    """

    priority = 'LOWEST'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Record the run id and seal the checkpoint."""
        checkpoint.setdefault('meta', {})['run_id'] = getattr(runner, 'run_id', None)
        seal_checkpoint(checkpoint)
