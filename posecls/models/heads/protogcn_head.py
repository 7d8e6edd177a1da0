"""ProtoGCNHead: GCNHead plus ProtoGCN's class-specific contrastive loss on the prototype reconstruction.

ProtoGCN (Liu et al., CVPR 2025, arXiv 2411.18941; reference firework8/ProtoGCN, MIT licence): the training
loss is ``CE(logits, y) + weight * L_csc`` where ``L_csc`` compares the projected reconstruction of each sample
with a momentum memory of one vector per class. Written for posecls from the paper and the reference's
description (docs/reference.md, "External models"); inference and export use the :class:`GCNHead` part only.
"""
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F
from torch import nn

from posecls.models.heads.gcn_head import GCNHead
from posecls.registry import MODELS
from posecls.structures import PoseDataSample


@MODELS.register_module()
class ClassSpecificContrastiveLoss(nn.Module):
    """ProtoGCN's class-specific contrastive loss with a momentum memory of class centres.

    For a batch of reconstructions ``r`` (B, L) with labels ``y`` and the classifier's logits:

    1. ``f = proj(r)`` (B, D);
    2. the memory ``mu`` (D, K) moves towards the mean ``f`` of the correctly classified samples of each class:
       ``mu_k <- m * mu_k + (1 - m) * mean(f_i : y_i = argmax logits_i = k)``; classes without such a sample
       keep ``mu_k``; the gradient flows through the batch mean, the stored memory is detached;
    3. ``loss = CE(cos(f_i, mu_k) / tau, y_i)``.

    The memory starts at N(0, 1) and is not part of the state_dict (as in the reference, where it is a plain
    attribute): a checkpoint keeps loading when the class count changes, and a resumed run starts a new memory.

    Args:
        num_classes: K.
        in_features: L (V * V of the reconstruction).
        channels: D of the projection (256).
        temperature: tau (0.125).
        momentum: m (0.9).

    Shape:
        reconstruction (B, L), labels (B,), logits (B, K) -> scalar.
    """

    def __init__(self, num_classes: int, in_features: int, channels: int = 256, temperature: float = 0.125,
                 momentum: float = 0.9) -> None:
        super().__init__()
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f'momentum must be in [0, 1], got {momentum!r}')
        if temperature <= 0:
            raise ValueError(f'temperature must be > 0, got {temperature!r}')
        self.num_classes = num_classes
        self.temperature = temperature
        self.momentum = momentum
        self.proj = nn.Linear(in_features, channels)
        self.register_buffer('memory', torch.randn(channels, num_classes), persistent=False)

    def forward(self, reconstruction: torch.Tensor, labels: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        """The loss (and, in training mode, the memory update)."""
        with torch.autocast(reconstruction.device.type, enabled=False):  # the loss in float32 under AMP too
            f = self.proj(reconstruction.float())
            onehot = F.one_hot(labels, self.num_classes).float()
            hits = onehot * F.one_hot(logits.argmax(1), self.num_classes).float()  # (B, K) correct predictions
            count = hits.sum(0, keepdim=True)
            batch_mean = f.t() @ hits / (count + 1e-12)  # (D, K)
            keep = torch.where(count > 1e-8, torch.full_like(count, self.momentum), torch.ones_like(count))
            memory = self.memory.float() * keep + (1 - keep) * batch_mean
            if self.training:
                with torch.no_grad():
                    self.memory.copy_(memory.detach())
            f = f / (f.norm(dim=1, keepdim=True) + 1e-12)
            memory = memory / (memory.norm(dim=0, keepdim=True) + 1e-12)
            return F.cross_entropy(f @ memory / self.temperature, labels)


@MODELS.register_module()
class ProtoGCNHead(GCNHead):
    """:class:`GCNHead` (pool, person mean, ``fcn``) whose loss adds ProtoGCN's class-specific contrastive term.

    ``loss = CE + proto_loss_weight * L_csc(reconstruction)`` (:class:`ClassSpecificContrastiveLoss`), logged as
    ``loss_cls`` and ``loss_proto``. The classes of the memory update are the head's predictions of the same
    features (a second, gradient-free pass; identical to the reference's when ``dropout`` is 0). Without a
    reconstruction (a plain :class:`SkeletonRecognizer`) the loss is GCNHead's. ``fcn`` starts at N(0, 0.01),
    bias 0, as the reference's classifier.

    Args:
        num_classes: Number of classes.
        in_channels: Feature channels (384 for ProtoGCN's default widths).
        num_nodes: Joints V of the backbone's layout (the reconstruction has V * V entries).
        dropout: Dropout before ``fcn``.
        loss_cls: Classification loss config (default ``CrossEntropyLoss``).
        proto_loss_weight: Weight of the contrastive term (0.2 in the reference's configs; 0 turns it off).
        contrast_channels: Projection width D of the contrastive loss (256).
        temperature: Its temperature (0.125).
        momentum: Momentum of its class memory (0.9).
        init_std: Standard deviation of the initial ``fcn`` weights.
        topk: Top-k accuracies logged during training.
        init_cfg: mmengine init config.
    """

    def __init__(self, num_classes: int, in_channels: int = 384, num_nodes: int = 25, dropout: float = 0.0,
                 loss_cls: Optional[dict] = None, proto_loss_weight: float = 0.2, contrast_channels: int = 256,
                 temperature: float = 0.125, momentum: float = 0.9, init_std: float = 0.01, topk: tuple = (1, ),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(num_classes, in_channels, dropout=dropout, loss_cls=loss_cls, topk=topk, init_cfg=init_cfg)
        if not isinstance(num_nodes, int) or num_nodes < 1:
            raise ValueError(f'num_nodes must be a positive int (joints V of the layout), got {num_nodes!r}')
        if proto_loss_weight < 0:
            raise ValueError(f'proto_loss_weight must be >= 0, got {proto_loss_weight!r}')
        self.num_nodes = num_nodes
        self.proto_loss_weight = proto_loss_weight
        self.loss_proto = ClassSpecificContrastiveLoss(num_classes, num_nodes * num_nodes, contrast_channels,
                                                       temperature, momentum)
        nn.init.normal_(self.fcn.weight, 0.0, init_std)
        nn.init.zeros_(self.fcn.bias)

    def loss(self, feats: torch.Tensor, data_samples: List[PoseDataSample],
             reconstruction: Optional[torch.Tensor] = None) -> Dict[str, torch.Tensor]:
        """GCNHead's loss and accuracy, plus ``loss_proto`` when a reconstruction (N, V * V) is given."""
        losses = super().loss(feats, data_samples)
        if reconstruction is None or self.proto_loss_weight == 0:
            return losses
        expected = self.num_nodes * self.num_nodes
        if reconstruction.dim() != 2 or reconstruction.size(1) != expected:
            raise ValueError(f'ProtoGCNHead(num_nodes={self.num_nodes}) expects a reconstruction (N, {expected}), '
                             f'got {tuple(reconstruction.shape)}; set cls_head.num_nodes to the layout\'s joints')
        labels = torch.stack([ds.gt_label for ds in data_samples]).to(feats.device).view(-1)
        with torch.no_grad():
            logits = self(feats)
        losses['loss_proto'] = self.proto_loss_weight * self.loss_proto(reconstruction, labels, logits)
        return losses
