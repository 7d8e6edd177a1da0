"""ProgressHook: what a person watching a run needs -- a progress bar with ETA, one line per epoch -- and no more.

The command-line tools add it unless ``--verbose`` (which shows mmengine's full log: the
environment, the config dump, hook tables and a line every ``interval`` iterations); the
log file always holds the full log. On a terminal it draws rich progress bars (stderr); in a
pipe or a CI log it prints plain lines: one per epoch, and while an epoch runs at most one
every ``text_interval_s`` seconds.
"""
import sys
import time
from typing import Any, Dict, Optional

from mmengine.dist import is_main_process
from mmengine.hooks import Hook

from posecls.registry import HOOKS


def _fmt_time(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f'{h}:{m:02d}:{s:02d}' if h else f'{m}:{s:02d}'


def _fmt_metrics(metrics: Dict[str, Any]) -> str:
    parts = []
    for k, v in metrics.items():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            parts.append(f'{k} {v:.4f}')
    return '  '.join(parts)


@HOOKS.register_module()
class ProgressHook(Hook):
    """Progress of training, validation and testing, for people.

    Args:
        bar: Draw rich progress bars: True, False, or None for "when stderr is a terminal".
        text_interval_s: Without bars, the longest time between two progress lines.
    """

    priority = 'BELOW_NORMAL'

    def __init__(self, bar: Optional[bool] = None, text_interval_s: float = 30.0) -> None:
        self.bar = sys.stderr.isatty() if bar is None else bool(bar)
        self.text_interval_s = text_interval_s
        self._progress = None
        self._task = None
        self._t_run: Optional[float] = None
        self._t_epoch = 0.0
        self._last_line = 0.0
        self._epoch_times = []
        self._loss_sum, self._loss_n = 0.0, 0

    # ------------------------------------------------------------------ output
    def _print(self, text: str) -> None:
        if not is_main_process():
            return
        if self._progress is not None:
            self._progress.console.print(text, highlight=False)
        else:
            print(text, flush=True)

    def _start(self, description: str, total: int) -> None:
        self._stop()
        self._t_epoch = self._last_line = time.monotonic()
        if not (self.bar and is_main_process()):
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
        self._progress = Progress(TextColumn('{task.description}'), BarColumn(), MofNCompleteColumn(),
                                  TimeRemainingColumn(), TextColumn('{task.fields[info]}'),
                                  console=Console(stderr=True), transient=True)
        self._task = self._progress.add_task(description, total=total, info='')
        self._progress.start()

    def _advance(self, done: int, total: int, description: str, info: str = '') -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=done, info=info)
            return
        now = time.monotonic()
        if now - self._last_line >= self.text_interval_s and done < total:
            self._last_line = now
            eta = (now - self._t_epoch) / max(done, 1) * (total - done)
            self._print(f'{description} {done}/{total}  {info}  ETA {_fmt_time(eta)}'.rstrip())

    def _stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress, self._task = None, None

    # ------------------------------------------------------------------ training
    def before_train(self, runner) -> None:
        """Start the run clock."""
        self._t_run = time.monotonic()
        self._epoch_times = []
        if runner.epoch > 0:
            self._print(f'Resumed after epoch {runner.epoch} of {runner.max_epochs} ({runner.work_dir})')

    def before_train_epoch(self, runner) -> None:
        """Start the epoch's bar."""
        self._loss_sum, self._loss_n = 0.0, 0
        self._start(f'Epoch {runner.epoch + 1}/{runner.max_epochs}', len(runner.train_dataloader))

    def after_train_iter(self, runner, batch_idx: int, data_batch: Any = None, outputs: Any = None) -> None:
        """Advance the bar with the running loss."""
        if outputs is not None and 'loss' in outputs:
            loss = outputs['loss']
            self._loss_sum += float(loss.detach()) if hasattr(loss, 'detach') else float(loss)
            self._loss_n += 1
        info = f'loss {self._loss_sum / self._loss_n:.4f}' if self._loss_n else ''
        total = len(runner.train_dataloader)
        self._advance(batch_idx + 1, total, f'Epoch {runner.epoch + 1}/{runner.max_epochs}', info)

    def after_train_epoch(self, runner) -> None:
        """One line for the epoch, with the run's ETA."""
        self._stop()
        took = time.monotonic() - self._t_epoch
        self._epoch_times.append(took)
        left = runner.max_epochs - (runner.epoch + 1)
        eta = sum(self._epoch_times) / len(self._epoch_times) * left
        lr = runner.optim_wrapper.get_lr().get('lr', [None])[0]
        loss = f'loss {self._loss_sum / self._loss_n:.4f}  ' if self._loss_n else ''
        lr_text = f'lr {lr:.4g}  ' if lr is not None else ''
        self._print(f'Epoch {runner.epoch + 1}/{runner.max_epochs}  {loss}{lr_text}{_fmt_time(took)}'
                    + (f'  ETA {_fmt_time(eta)}' if left else ''))

    def after_train(self, runner) -> None:
        """Total time."""
        self._stop()
        if self._t_run is not None:
            self._print(f'Training done in {_fmt_time(time.monotonic() - self._t_run)}; checkpoints in '
                        f'{runner.work_dir}')

    # ------------------------------------------------------------------ validation / test
    def before_val_epoch(self, runner) -> None:
        """Start the validation bar."""
        self._start('  validation', len(runner.val_dataloader))

    def after_val_iter(self, runner, batch_idx: int, data_batch: Any = None, outputs: Any = None) -> None:
        """Advance the validation bar."""
        self._advance(batch_idx + 1, len(runner.val_dataloader), '  validation')

    def after_val_epoch(self, runner, metrics: Optional[Dict[str, Any]] = None) -> None:
        """The epoch's validation metrics."""
        self._stop()
        self._print(f'  validation  {_fmt_metrics(metrics or {})}')

    def before_test_epoch(self, runner) -> None:
        """Start the test bar."""
        self._start('Testing', len(runner.test_dataloader))

    def after_test_iter(self, runner, batch_idx: int, data_batch: Any = None, outputs: Any = None) -> None:
        """Advance the test bar."""
        self._advance(batch_idx + 1, len(runner.test_dataloader), 'Testing')

    def after_test_epoch(self, runner, metrics: Optional[Dict[str, Any]] = None) -> None:
        """Stop the test bar (the report prints the metrics)."""
        self._stop()
        self._print(f'Tested {len(runner.test_dataloader.dataset)} sequences in '
                    f'{_fmt_time(time.monotonic() - self._t_epoch)}')
