"""Temporal convolution units of ST-GCN++ (pyskl ``mstcn``) and CTR-GCN (multi-scale TCN)."""
from typing import Sequence, Tuple, Union

import torch
from torch import nn

from posecls.models.utils.residual import add_residual, residual_unit

BranchCfg = Union[str, Tuple[Union[int, str], int]]

#: ST-GCN++'s default branches: four dilated 3x1 convolutions, a max-pool and a 1x1 branch.
MSTCN_BRANCHES: Tuple[BranchCfg, ...] = ((3, 1), (3, 2), (3, 3), (3, 4), ('max', 3), '1x1')


def _same_padding(kernel_size: int, dilation: int) -> int:
    return (kernel_size + (kernel_size - 1) * (dilation - 1) - 1) // 2


class UnitTCN(nn.Module):
    """``Conv2d(k x 1, stride, dilation)`` + optional BatchNorm + dropout over (N, C, T, V).

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        kernel_size: Temporal kernel size (odd).
        stride: Temporal stride.
        dilation: Temporal dilation.
        norm: Add a BatchNorm2d after the convolution.
        dropout: Dropout probability after the norm.

    Shape:
        (N, C_in, T, V) -> (N, C_out, ceil(T / stride), V).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 9, stride: int = 1,
                 dilation: int = 1, norm: bool = True, dropout: float = 0.0) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f'temporal kernel size must be odd, got {kernel_size}')
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=(kernel_size, 1),
                              padding=(_same_padding(kernel_size, dilation), 0), stride=(stride, 1),
                              dilation=(dilation, 1))
        self.bn = nn.BatchNorm2d(out_channels) if norm else nn.Identity()
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Convolve along T."""
        return self.drop(self.bn(self.conv(x)))


def unit_projection(in_channels: int, out_channels: int, stride: int) -> nn.Module:
    """pyskl's residual projection of ST-GCN++ / CTR-GCN blocks: a strided 1x1 :class:`UnitTCN` (conv + BN)."""
    return UnitTCN(in_channels, out_channels, kernel_size=1, stride=stride)


class MSTCN(nn.Module):
    """ST-GCN++'s multi-scale temporal convolution (pyskl ``mstcn``).

    Parallel branches, each ``1x1 conv -> BN -> ReLU`` followed by a dilated
    ``k x 1`` convolution (``(k, d)``), a ``k x 1`` max-pool (``('max', k)``), or a
    strided plain 1x1 convolution (``'1x1'``). Branch outputs are concatenated
    (``out // branches`` channels each, the remainder to the first branch),
    then ``BN -> ReLU -> 1x1 conv``, a BatchNorm and dropout.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        stride: Temporal stride of every branch.
        branches: Branch configs (see above). Defaults to :data:`MSTCN_BRANCHES`.
        dropout: Dropout probability at the end.

    Shape:
        (N, C_in, T, V) -> (N, C_out, ceil(T / stride), V).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1,
                 branches: Sequence[BranchCfg] = MSTCN_BRANCHES, dropout: float = 0.0) -> None:
        super().__init__()
        branches = [tuple(b) if isinstance(b, list) else b for b in branches]
        num = len(branches)
        if num < 1 or out_channels < num:
            raise ValueError(f'MSTCN needs 1..{out_channels} branches for {out_channels} output channels, '
                             f'got {num}')
        mid = out_channels // num
        first = out_channels - mid * (num - 1)
        layers = []
        for i, cfg in enumerate(branches):
            c = first if i == 0 else mid
            if cfg == '1x1':
                layers.append(nn.Conv2d(in_channels, c, kernel_size=1, stride=(stride, 1)))
                continue
            if not (isinstance(cfg, tuple) and len(cfg) == 2):
                raise ValueError(f"MSTCN branch {i}: expected (kernel, dilation), ('max', kernel) or '1x1', "
                                 f'got {cfg!r}')
            pre = [nn.Conv2d(in_channels, c, kernel_size=1), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
            if cfg[0] == 'max':
                k = int(cfg[1])
                layers.append(nn.Sequential(*pre, nn.MaxPool2d((k, 1), stride=(stride, 1), padding=(k // 2, 0))))
            else:
                k, d = int(cfg[0]), int(cfg[1])
                layers.append(nn.Sequential(*pre, UnitTCN(c, c, k, stride=stride, dilation=d, norm=False)))
        self.branches = nn.ModuleList(layers)
        self.transform = nn.Sequential(nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True),
                                       nn.Conv2d(out_channels, out_channels, kernel_size=1))
        self.bn = nn.BatchNorm2d(out_channels)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply every branch, concatenate and fuse."""
        out = torch.cat([branch(x) for branch in self.branches], dim=1)
        return self.drop(self.bn(self.transform(out)))


class MultiScaleTCN(nn.Module):
    """CTR-GCN's multi-scale temporal convolution (``MultiScale_TemporalConv``).

    ``len(dilations)`` branches ``1x1 conv -> BN -> ReLU -> k x 1 conv(dilation) -> BN``,
    a max-pool branch ``1x1 conv -> BN -> ReLU -> 3x1 max-pool -> BN`` and a
    ``1x1 conv(stride) -> BN`` branch, each with ``out_channels / branches``
    channels, concatenated; optional residual.

    Args:
        in_channels: Input channels.
        out_channels: Output channels; a multiple of ``len(dilations) + 2``.
        kernel_size: Temporal kernel of the dilated branches (odd).
        stride: Temporal stride.
        dilations: One dilated branch per value.
        residual: Add ``x`` (or a strided 1x1 conv + BN of it when shapes differ).
        dropout: Dropout probability on the output.

    Shape:
        (N, C_in, T, V) -> (N, C_out, ceil(T / stride), V).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 5, stride: int = 1,
                 dilations: Sequence[int] = (1, 2), residual: bool = False, dropout: float = 0.0) -> None:
        super().__init__()
        num = len(dilations) + 2
        if out_channels % num != 0:
            raise ValueError(f'MultiScaleTCN: out_channels={out_channels} must be a multiple of the number of '
                             f'branches len(dilations) + 2 = {num}')
        c = out_channels // num
        self.branches = nn.ModuleList([
            nn.Sequential(nn.Conv2d(in_channels, c, kernel_size=1), nn.BatchNorm2d(c), nn.ReLU(inplace=True),
                          UnitTCN(c, c, kernel_size, stride=stride, dilation=int(d))) for d in dilations
        ])
        self.branches.append(nn.Sequential(
            nn.Conv2d(in_channels, c, kernel_size=1), nn.BatchNorm2d(c), nn.ReLU(inplace=True),
            nn.MaxPool2d((3, 1), stride=(stride, 1), padding=(1, 0)), nn.BatchNorm2d(c)))
        self.branches.append(nn.Sequential(nn.Conv2d(in_channels, c, kernel_size=1, stride=(stride, 1)),
                                           nn.BatchNorm2d(c)))
        self.residual = residual_unit(in_channels, out_channels, stride, residual, unit_projection)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the branches (and the residual)."""
        return self.drop(add_residual(torch.cat([branch(x) for branch in self.branches], dim=1), self.residual, x))
