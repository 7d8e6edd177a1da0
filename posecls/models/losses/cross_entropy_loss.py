"""Cross-entropy classification loss."""
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from posecls.registry import MODELS


@MODELS.register_module()
class CrossEntropyLoss(nn.Module):
    """Softmax cross-entropy on logits (TAO uses the plain form: no weights, no smoothing).

    Args:
        loss_weight: Multiplier of the loss.
        class_weight: Optional per-class weights (length num_classes).
        label_smoothing: Label smoothing in [0, 1).
    """

    def __init__(self, loss_weight: float = 1.0, class_weight: Optional[Sequence[float]] = None,
                 label_smoothing: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f'label_smoothing must be in [0, 1), got {label_smoothing}')
        self.loss_weight = loss_weight
        self.label_smoothing = label_smoothing
        if class_weight is not None:
            self.register_buffer('class_weight', torch.tensor(class_weight, dtype=torch.float32), persistent=False)
        else:
            self.class_weight = None

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Mean loss of logits (N, num_classes) against int64 labels (N,)."""
        if self.class_weight is not None and self.class_weight.numel() != logits.size(1):
            raise ValueError(f'class_weight has {self.class_weight.numel()} entries for {logits.size(1)} classes')
        return self.loss_weight * F.cross_entropy(
            logits, labels, weight=self.class_weight, label_smoothing=self.label_smoothing)
