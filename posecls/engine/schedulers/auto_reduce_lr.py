"""AutoReduceLR: TAO's "AutoReduce" (ReduceLROnPlateau on val_loss or train_loss)."""
from mmengine.logging import MessageHub
from mmengine.optim.scheduler import ReduceOnPlateauLR

from posecls.registry import PARAM_SCHEDULERS

#: metric key the validation evaluator reports for the mean cross-entropy
VAL_LOSS_KEY = 'loss'


@PARAM_SCHEDULERS.register_module()
class AutoReduceLR(ReduceOnPlateauLR):
    """Reduce the learning rate when a loss stops improving (TAO's AutoReduce).

    Args:
        optimizer: Wrapped optimizer.
        monitor: ``'val_loss'`` (mean cross-entropy reported by the
            validation metric, TAO's default), ``'train_loss'`` (mean training
            loss of the epoch), or any other validation metric key.
        rule: ``'less'`` or ``'greater'`` is better.
        factor: LR multiplier on a plateau (TAO ``lr_decay``, 0.1).
        patience: Epochs without improvement tolerated (TAO default 1).
        min_value: Lower bound of the LR (TAO ``min_lr``, 1e-4).
        threshold: Relative improvement that counts (torch/TAO default 1e-4).
        **kwargs: Other :class:`mmengine.optim.ReduceOnPlateauLR` arguments.
    """

    def __init__(self, optimizer, monitor: str = 'val_loss', rule: str = 'less', factor: float = 0.1,
                 patience: int = 1, min_value: float = 1e-4, threshold: float = 1e-4, **kwargs) -> None:
        self.on_train_loss = monitor == 'train_loss'
        key = {'val_loss': VAL_LOSS_KEY, 'train_loss': 'train_loss'}.get(monitor, monitor)
        super().__init__(optimizer, monitor=key, rule=rule, factor=factor, patience=patience, min_value=min_value,
                         threshold=threshold, **kwargs)
        self.need_val_args = not self.on_train_loss
        self._train_loss_seen = 0

    def _epoch_train_loss(self) -> float:
        buf = MessageHub.get_current_instance().get_scalar('train/loss')
        n = len(buf.data[0])
        new = n - self._train_loss_seen
        if new <= 0:
            raise RuntimeError("AutoReduceLR(monitor='train_loss') found no training loss logged this epoch")
        self._train_loss_seen = n
        return float(buf.mean(new))

    def step(self, metrics=None) -> None:
        """Step after a training epoch (``metrics=None``) or a validation epoch."""
        if self.on_train_loss and metrics is None:
            super().step(None)  # counts the epoch
            super().step({'train_loss': self._epoch_train_loss()})
            return
        super().step(metrics)
