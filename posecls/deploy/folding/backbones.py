"""Folded blocks of posecls's backbones (ST-GCN, ST-GCN++, CTR-GCN) for the export graph.

Each ``fold_<backbone>`` returns ``(input_norm, blocks)``: the input BatchNorm as an :class:`InputAffine` and
one :class:`FoldedBlock` per block, from a deep copy of a trained backbone in eval mode. What is folded:

- ST-GCN: ``A * edge_importance[i]`` -> one constant per block; the BatchNorm after the aggregation
  (``tcn[0]``) -> the 1x1 weights and bias plus one ``(C, 1, 1)`` add; the temporal conv + BN and the
  residual conv + BN -> one conv each; the input BatchNorm over ``V * C`` -> a multiply in the input
  layout, its shift carried through block 0 (which has no residual) into its ``(C, 1, V)`` add.
- ST-GCN++: the adaptive adjacency -> a constant; the graph convolution's BN as for ST-GCN; every conv + BN
  of the graph residual, the multi-scale TCN and the block residual -> one conv.
- CTR-GCN: the graph unit's output BN scale -> each ``conv3``, its shift -> the down-projection's bias (or
  one add), ``alpha`` -> ``conv4``; the temporal mean before ``conv1``/``conv2`` (exact: they are 1x1) is
  computed once per block; every conv + BN of the TCN and the residual -> one conv.
"""
from typing import List, Optional, Sequence, Tuple

import torch
from torch import nn

from .ops import (
    FoldedBlock,
    FoldedGraphConv,
    InputAffine,
    affine_conv,
    bn_affine,
    fold_conv_bn_inplace,
    fold_projection,
    fuse_conv_bn,
    input_bn_affine,
)

Folded = Tuple[nn.Module, List[nn.Module]]


def fold_stgcn(backbone: nn.Module, frames: Sequence[int], shape: Sequence[int], impl: str) -> Folded:
    """ST-GCN (TAO's network).

    Args:
        backbone: A :class:`posecls.models.backbones.STGCN` in eval mode.
        frames: T at the input of every block (export shape).
        shape: (C, T, V, M) of the export input.
        impl: ``'einsum'`` or ``'matmul'``.
    """
    C, _, V, _ = shape
    bn = backbone.data_bn if isinstance(backbone.data_bn, nn.BatchNorm1d) else None
    affine = input_bn_affine(bn, 'VC', C, V, 1) if bn is not None else None
    shift_into_first = affine is not None and backbone.blocks[0].residual is None
    blocks: List[nn.Module] = []
    for i, block in enumerate(backbone.blocks):
        A = backbone.A if backbone.edge_importance is None else backbone.A * backbone.edge_importance[i]
        bn0, conv, bn1 = block.tcn[0], block.tcn[2], block.tcn[3]
        shift = affine[1][:, :, 0] if i == 0 and shift_into_first else None
        gcn = FoldedGraphConv(block.gcn.conv, A, frames[i], bn=bn0, input_shift=shift, impl=impl)
        blocks.append(FoldedBlock(nn.Sequential(gcn, nn.ReLU(), fuse_conv_bn(conv, bn1)),
                                  fold_projection(block.residual)))
    scale = affine[0] if affine is not None else None
    in_shift = affine[1] if affine is not None and not shift_into_first else None
    return InputAffine(scale, in_shift, shape), blocks


def _skeleton_input(data_bn: nn.Module, shape: Sequence[int]) -> InputAffine:
    """:class:`SkeletonInputBN` -> :class:`InputAffine`."""
    C, _, V, _ = shape
    affine = input_bn_affine(data_bn.bn, data_bn.bn_type, C, V, data_bn.num_person)
    return InputAffine(*(affine if affine is not None else (None, None)), shape)


def fold_stgcnpp(backbone: nn.Module, frames: Sequence[int], shape: Sequence[int], impl: str) -> Folded:
    """ST-GCN++ (adaptive graph convolution + MSTCN / unit TCN); arguments as :func:`fold_stgcn`."""
    blocks: List[nn.Module] = []
    for i, block in enumerate(backbone.blocks):
        g = block.gcn
        gcn = FoldedBlock(FoldedGraphConv(g.conv, g.adjacency(), frames[i], bn=g.bn, impl=impl),
                          fold_projection(g.down))
        blocks.append(FoldedBlock(nn.Sequential(gcn, fold_conv_bn_inplace(block.tcn)),
                                  fold_projection(block.residual)))
    return _skeleton_input(backbone.data_bn, shape), blocks


class FoldedCTRGC(nn.Module):
    """One CTR-GCN partition with ``alpha`` in ``conv4`` and the unit's BN scale in ``conv3``.

    Args:
        unit: The :class:`posecls.models.utils.CTRGC`.
        A: (V, V) adjacency of the partition.
        alpha: The unit's scalar ``alpha``.
        scale: Per-channel scale of the BatchNorm after the sum of partitions.
    """

    def __init__(self, unit: nn.Module, A: torch.Tensor, alpha: torch.Tensor, scale: torch.Tensor) -> None:
        super().__init__()
        self.conv1, self.conv2 = unit.conv1, unit.conv2
        self.conv3 = affine_conv(unit.conv3, scale)
        self.conv4 = affine_conv(unit.conv4, alpha.detach().double())
        self.register_buffer('A', A.detach().float().clone())

    def forward(self, x: torch.Tensor, x_mean: torch.Tensor) -> torch.Tensor:
        """x (N, C_in, T, V), x_mean its temporal mean (N, C_in, 1, V) -> (N, C_out, T, V)."""
        rel = torch.tanh(self.conv1(x_mean).transpose(2, 3) - self.conv2(x_mean))  # (N, R, V, V)
        return torch.matmul(self.conv3(x), self.conv4(rel) + self.A)


class FoldedCTRSum(nn.Module):
    """Sum of the partitions of a CTR graph unit (+ the BN shift when no down-projection takes it)."""

    def __init__(self, units: List[nn.Module], shift: Optional[torch.Tensor]) -> None:
        super().__init__()
        self.units = nn.ModuleList(units)
        if shift is None:
            self.shift = None
        else:
            self.register_buffer('shift', shift.float().view(-1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C_in, T, V) -> (N, C_out, T, V) before the residual and ReLU."""
        x_mean = x.mean(dim=2, keepdim=True)
        y = self.units[0](x, x_mean)
        for unit in self.units[1:]:
            y = y + unit(x, x_mean)
        return y if self.shift is None else y + self.shift


def fold_ctrgcn(backbone: nn.Module, frames: Sequence[int], shape: Sequence[int], impl: str) -> Folded:
    """CTR-GCN; arguments as :func:`fold_stgcn` (``frames`` and ``impl`` are not needed: no reshapes)."""
    blocks: List[nn.Module] = []
    for block in backbone.blocks:
        g = block.gcn1
        scale, shift = bn_affine(g.bn)
        units = [FoldedCTRGC(unit, g.A[k], g.alpha, scale) for k, unit in enumerate(g.convs)]
        if isinstance(g.down, nn.Sequential):
            gcn = FoldedBlock(FoldedCTRSum(units, None), fuse_conv_bn(g.down[0], g.down[1], extra_bias=shift))
        else:
            gcn = FoldedBlock(FoldedCTRSum(units, shift), g.down)
        blocks.append(FoldedBlock(nn.Sequential(gcn, fold_conv_bn_inplace(block.tcn1)),
                                  fold_projection(block.residual)))
    return _skeleton_input(backbone.data_bn, shape), blocks


__all__ = ['fold_stgcn', 'fold_stgcnpp', 'fold_ctrgcn', 'FoldedCTRGC', 'FoldedCTRSum']
