"""PoseLogProcessor: validation and test metrics are logged as the epoch's own values."""
import re

from mmengine.runner import LogProcessor

from posecls.registry import LOG_PROCESSORS

#: keys smoothed over the window in validation/test logs (timings); metrics are never smoothed
EVAL_MEAN_PATTERN = r'.*(time|data_time).*'


@LOG_PROCESSORS.register_module()
class PoseLogProcessor(LogProcessor):
    """mmengine's LogProcessor, except that val/test metrics are not averaged with earlier epochs.

    mmengine averages every key matching ``mean_pattern`` (which contains ``loss``) over
    ``window_size`` log entries, also in validation, where one entry is one epoch: the logged,
    stored (scalars.json) and TensorBoard ``loss`` of epoch 4 was the mean of epochs 1-4, and
    changed after a resume. Here training keeps mmengine's smoothing; val/test metrics are the
    epoch's own (timings are still averaged over the epoch).

    Args: as :class:`mmengine.runner.LogProcessor`.
    """

    def _collect_scalars(self, custom_cfg, runner, mode: str, reserve_prefix: bool = False) -> dict:
        if mode == 'train':
            return super()._collect_scalars(custom_cfg, runner, mode, reserve_prefix)
        saved = self.mean_pattern
        self.mean_pattern = re.compile(EVAL_MEAN_PATTERN)
        try:
            return super()._collect_scalars(custom_cfg, runner, mode, reserve_prefix)
        finally:
            self.mean_pattern = saved
