"""GCNHead: pooling, person averaging and TAO's 1x1-conv classifier ``fcn``."""
from typing import Dict, List, Optional

import torch
from mmengine.model import BaseModule
from torch import nn

from posecls.registry import MODELS
from posecls.structures import PoseDataSample


@MODELS.register_module()
class GCNHead(BaseModule):
    """Classification head of ST-GCN.

    Global average pool over (T', V) per person, mean over persons M, optional
    dropout, then ``fcn`` = Conv2d(in_channels, num_classes, 1) with bias -- the
    same parameters and key names as TAO/original ST-GCN. Outputs raw logits.

    Args:
        num_classes: Number of classes.
        in_channels: Feature channels (256 for TAO's ST-GCN).
        dropout: Dropout before ``fcn`` (TAO has none: 0.0).
        loss_cls: Loss config. Defaults to ``dict(type='CrossEntropyLoss')``.
        topk: Top-k accuracies logged during training.
        init_cfg: mmengine init config.
    """

    def __init__(self, num_classes: int, in_channels: int = 256, dropout: float = 0.0,
                 loss_cls: Optional[dict] = None, topk: tuple = (1, ), init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f'num_classes must be a positive int, got {num_classes!r}')
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fcn = nn.Conv2d(in_channels, num_classes, kernel_size=1)
        self.loss_cls = MODELS.build(loss_cls if loss_cls is not None else dict(type='CrossEntropyLoss'))
        self.topk = tuple(topk)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        """Map features (N, M, C, T', V) to logits (N, num_classes)."""
        if feats.dim() != 5 or feats.size(2) != self.in_channels:
            raise ValueError(f'GCNHead expects features (N, M, {self.in_channels}, T, V), got {tuple(feats.shape)}')
        x = feats.mean(dim=(3, 4)).mean(dim=1)  # (N, C)
        x = self.dropout(x)
        x = self.fcn(x[:, :, None, None])
        return x.view(x.size(0), -1)

    def loss(self, feats: torch.Tensor, data_samples: List[PoseDataSample]) -> Dict[str, torch.Tensor]:
        """Compute the classification loss and top-k training accuracy."""
        logits = self(feats)
        labels = torch.stack([ds.gt_label for ds in data_samples]).to(logits.device)
        if labels.min() < 0 or labels.max() >= self.num_classes:
            bad = labels[(labels < 0) | (labels >= self.num_classes)].unique().tolist()
            raise ValueError(f'labels {bad} are outside [0, {self.num_classes}) for a {self.num_classes}-class head; '
                             'check dataset.num_classes / label_map against the label file')
        losses = {'loss_cls': self.loss_cls(logits, labels)}
        with torch.no_grad():
            for k in self.topk:
                k_ = min(k, self.num_classes)
                hit = (logits.topk(k_, dim=1).indices == labels[:, None]).any(dim=1).float().mean()
                losses[f'top{k}_acc'] = hit
        return losses
