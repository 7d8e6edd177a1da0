"""Input normalisation shared by the GCN backbones: (N, C, T, V, M) -> BatchNorm -> (N * M, C, T, V)."""
from typing import Optional

import torch
from torch import nn

DATA_BN_TYPES = ('VC', 'MVC', None)


class SkeletonInputBN(nn.Module):
    """Check the input shape, normalise it with a joint-major BatchNorm1d and fold persons into the batch.

    Args:
        in_channels: Expected channels C.
        num_node: Expected joints V.
        bn_type: ``'VC'``: BatchNorm1d(V * C) shared by all persons (ST-GCN, ST-GCN++);
            ``'MVC'``: BatchNorm1d(M * V * C), one statistic per person slot (CTR-GCN's
            original; needs exactly ``num_person`` persons); None: no normalisation.
        num_person: Persons M for ``'MVC'``.
        name: Backbone name for error messages.
        layout_name: Graph layout name for error messages.

    Shape:
        (N, C, T, V, M) -> (N * M, C, T, V).
    """

    def __init__(self, in_channels: int, num_node: int, bn_type: Optional[str] = 'VC', num_person: int = 1,
                 name: str = 'backbone', layout_name: Optional[str] = None) -> None:
        super().__init__()
        if bn_type not in DATA_BN_TYPES:
            raise ValueError(f'{name}: data_bn_type must be one of {DATA_BN_TYPES}, got {bn_type!r}')
        self.in_channels = in_channels
        self.num_node = num_node
        self.bn_type = bn_type
        self.num_person = num_person
        self.name = name
        self.layout_name = layout_name
        if bn_type == 'VC':
            self.bn = nn.BatchNorm1d(in_channels * num_node)
        elif bn_type == 'MVC':
            self.bn = nn.BatchNorm1d(num_person * in_channels * num_node)
        else:
            self.bn = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise and reshape."""
        return normalize_skeleton_input(x, self.bn, self.bn_type, self.in_channels, self.num_node, self.num_person,
                                        self.name, self.layout_name)


def normalize_skeleton_input(x: torch.Tensor, norm: nn.Module, bn_type: Optional[str], in_channels: int,
                             num_node: int, num_person: int = 1, name: str = 'backbone',
                             layout_name: Optional[str] = None) -> torch.Tensor:
    """Check an input batch, normalise it joint-major and fold persons into the batch.

    The one implementation behind :class:`SkeletonInputBN` and ST-GCN's TAO-named
    ``data_bn`` (a plain BatchNorm1d whose state_dict keys TAO checkpoints use).

    Args:
        x: (N, C, T, V, M) skeleton sequences.
        norm: BatchNorm1d over ``V * C`` (``'VC'``) or ``M * V * C`` (``'MVC'``), or an identity.
        bn_type: ``'VC'``, ``'MVC'`` or None.
        in_channels: Expected C.
        num_node: Expected V.
        num_person: Expected M for ``'MVC'``.
        name: Backbone name for messages.
        layout_name: Graph layout name for messages.

    Returns:
        torch.Tensor: (N * M, C, T, V).

    Raises:
        ValueError: not 5-D, or C / V (/ M for ``'MVC'``) differ from the model's.
    """
    if x.dim() != 5:
        raise ValueError(f'{name} expects input (N, C, T, V, M), got shape {tuple(x.shape)}')
    N, C, T, V, M = x.shape
    if C != in_channels:
        raise ValueError(f'{name}: input has C={C} channels but the model was built with in_channels='
                         f'{in_channels} (bone/motion streams keep C; concatenated streams multiply it)')
    if V != num_node:
        layout = f"graph layout '{layout_name}'" if layout_name else 'the graph layout'
        raise ValueError(f'{name}: input has V={V} joints but {layout} has {num_node}')
    if bn_type == 'MVC':
        if M != num_person:
            raise ValueError(f"{name}: data_bn_type='MVC' was built for num_person={num_person} but the input "
                             f'has M={M}')
        x = norm(x.permute(0, 4, 3, 1, 2).reshape(N, M * V * C, T))
    else:
        x = norm(x.permute(0, 4, 3, 1, 2).reshape(N * M, V * C, T))
    return x.view(N, M, V, C, T).permute(0, 1, 3, 4, 2).reshape(N * M, C, T, V)
