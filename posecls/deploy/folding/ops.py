"""Export-time building blocks of a folded recognizer: constant adjacency, BatchNorm folded, static reshapes.

Every function here computes in float64 and stores float32, so a folded layer differs from the layers it
replaces by float32 rounding only. Nothing here is used for training: :func:`posecls.deploy.folding.fold_for_export`
builds these modules from a deep copy of a trained recognizer.
"""
from typing import Optional, Tuple

import torch
from torch import nn

Affine = Tuple[torch.Tensor, torch.Tensor]


def bn_affine(bn: nn.Module) -> Affine:
    """``(scale, shift)`` (float64, per channel) of an eval-mode BatchNorm: ``bn(x) = scale * x + shift``."""
    var = bn.running_var.double()
    scale = 1.0 / torch.sqrt(var + bn.eps)
    shift = -bn.running_mean.double() * scale
    if bn.weight is not None:
        scale, shift = scale * bn.weight.double(), shift * bn.weight.double()
    if bn.bias is not None:
        shift = shift + bn.bias.double()
    return scale, shift


def _conv_like(conv: nn.Conv2d, weight: torch.Tensor, bias: Optional[torch.Tensor]) -> nn.Conv2d:
    """A Conv2d with ``conv``'s geometry and the given float64 weight / bias (stored as float32)."""
    out = nn.Conv2d(weight.shape[1] * conv.groups, weight.shape[0], conv.kernel_size, conv.stride, conv.padding,
                    conv.dilation, conv.groups, bias=bias is not None)
    with torch.no_grad():
        out.weight.copy_(weight.float())
        if bias is not None:
            out.bias.copy_(bias.float())
    return out.to(conv.weight.device).eval()


def conv_params(conv: nn.Conv2d) -> Tuple[torch.Tensor, torch.Tensor]:
    """(weight, bias) of a convolution in float64 (a zero bias when it has none)."""
    weight = conv.weight.detach().double()
    bias = conv.bias.detach().double() if conv.bias is not None else weight.new_zeros(weight.shape[0])
    return weight, bias


def affine_conv(conv: nn.Conv2d, scale: Optional[torch.Tensor] = None, shift: Optional[torch.Tensor] = None
                ) -> nn.Conv2d:
    """``scale * conv(x) + shift`` (per output channel, float64) as one convolution."""
    weight, bias = conv_params(conv)
    if scale is not None:
        scale = scale.double().expand(weight.shape[0])
        weight, bias = weight * scale.view(-1, 1, 1, 1), bias * scale
    if shift is not None:
        bias = bias + shift.double()
    return _conv_like(conv, weight, bias)


def fuse_conv_bn(conv: nn.Conv2d, bn: Optional[nn.Module] = None, extra_bias: Optional[torch.Tensor] = None
                 ) -> nn.Conv2d:
    """``bn(conv(x)) (+ extra_bias)`` as one convolution (exact up to float32 rounding).

    Args:
        conv: The convolution.
        bn: A BatchNorm2d right after it (nothing in between), or None.
        extra_bias: A per-channel constant added after both (float64), or None.
    """
    scale, shift = bn_affine(bn) if bn is not None else (None, None)
    if extra_bias is not None:
        shift = extra_bias.double() if shift is None else shift + extra_bias.double()
    return affine_conv(conv, scale, shift)


def fold_projection(module: Optional[nn.Module]) -> Optional[nn.Module]:
    """A residual path with its BatchNorm folded: None, identity, ``Sequential(Conv, BN)`` or a conv + BN unit."""
    if module is None or isinstance(module, nn.Identity):
        return module
    if isinstance(module, nn.Sequential) and len(module) == 2 and isinstance(module[0], nn.Conv2d) and \
            isinstance(module[1], nn.BatchNorm2d):
        return fuse_conv_bn(module[0], module[1])
    if isinstance(getattr(module, 'conv', None), nn.Conv2d) and isinstance(getattr(module, 'bn', None),
                                                                         (nn.BatchNorm2d, nn.Identity)):
        return fuse_conv_bn(module.conv, module.bn if isinstance(module.bn, nn.BatchNorm2d) else None)
    raise ValueError(f'cannot fold the residual path {type(module).__name__}')


class FoldedGraphConv(nn.Module):
    """ST-GCN's graph convolution with constant adjacency and the next BatchNorm folded.

    ``y[n, c, t, w] = sum_k sum_v (W'_k x[n, :, t, v] + b'_k) A[k, v, w] + P[c, w]``: ``W'``, ``b'`` are
    the 1x1 convolution scaled by the BatchNorm, ``P`` its shift as a (C, 1, 1) constant. With
    ``input_shift`` (a constant added to the input, folded here), the bias and that shift are carried
    through the aggregation into one (C, 1, V) constant instead (the convolution has no bias then).
    Reshapes use the static channel, frame and joint counts, so the exported graph has no Shape/Gather
    chains.

    The two forms compute the same sum in a different order:

    - ``'einsum'`` (TAO's graph): 1x1 convolution to ``K * C`` maps, then ``Einsum('nkctv,kvw->nctw')``.
    - ``'matmul'`` (no Einsum node): the joints are aggregated first, on the ``C_in`` input channels,
      ``sum_k W'_k (x A_k)``: ``K`` ``MatMul`` nodes of ``x`` with the (V, V) constants ``A_k``, concatenated
      along the channels to (N, K * C_in, T, V) (no Transpose), and one 1x1 convolution over (K, C_in) with
      the bias carried through the aggregation (its per-channel mean the convolution's bias, the rest a
      (C, 1, V) constant). No activation is transposed and every MatMul has a constant right operand (a
      plain GEMM), which makes this form 1.5x (ONNX Runtime) to 2.5-2.8x (OpenVINO bf16) faster than the
      Einsum on CPUs (docs/benchmarks.md, "Export forms"); with ``C_in < C`` it also needs fewer
      multiply-adds. (One MatMul with the (V, K * V) constant and a Transpose to the same layout was 1.26x
      slower in OpenVINO int8 at batch 16.)

    Args:
        conv: The 1x1 convolution to ``K * C`` maps.
        A: (K, V, V) adjacency, edge weights included.
        frames: T of the input (static in the export).
        bn: BatchNorm2d(C) applied to the aggregated output, or None.
        input_shift: (C_in, V) constant that was added to the input (folded here), or None.
        impl: ``'einsum'`` (TAO's Einsum node) or ``'matmul'`` (joints aggregated first, see above).
    """

    def __init__(self, conv: nn.Conv2d, A: torch.Tensor, frames: int, bn: Optional[nn.Module] = None,
                 input_shift: Optional[torch.Tensor] = None, impl: str = 'einsum') -> None:
        super().__init__()
        if impl not in ('einsum', 'matmul'):
            raise ValueError(f"impl must be 'einsum' or 'matmul', got {impl!r}")
        if impl == 'matmul' and (conv.kernel_size != (1, 1) or conv.stride != (1, 1) or conv.groups != 1):
            raise ValueError(f'the matmul form folds a 1x1, stride-1, ungrouped convolution, got kernel '
                             f'{conv.kernel_size}, stride {conv.stride}, groups {conv.groups}')
        A = A.detach().double()
        K, V = int(A.shape[0]), int(A.shape[2])
        weight, bias = conv_params(conv)
        C, C_in = weight.shape[0] // K, weight.shape[1]
        scale, shift = bn_affine(bn) if bn is not None else (weight.new_ones(C), weight.new_zeros(C))
        weight, bias = weight * scale.repeat(K).view(-1, 1, 1, 1), bias * scale.repeat(K)
        if impl == 'einsum' and input_shift is None:  # TAO's graph: the bias before the aggregation
            self.conv = _conv_like(conv, weight, bias)
            post = shift.view(C, 1, 1)
        else:  # the bias (and the input shift) carried through the aggregation into one (C, 1, V) constant
            const = bias.view(K, C, 1).expand(K, C, V)  # (K, C, V_src) per-partition constant map
            if input_shift is not None:
                const = const + torch.einsum('koc,cv->kov', weight[:, :, 0, 0].reshape(K, C, C_in),
                                             input_shift.double())
            post = (torch.einsum('kcv,kvw->cw', const, A) + shift[:, None]).view(C, 1, V)
            if impl == 'einsum':
                self.conv = _conv_like(conv, weight, None)
            else:
                # (C, K * C_in) weight over the aggregated input, channel index k * C_in + i
                w2 = weight[:, :, 0, 0].reshape(K, C, C_in).permute(1, 0, 2).reshape(C, K * C_in, 1, 1)
                # the per-channel mean of the constant is the convolution's bias, the (C, 1, V) rest one Add: a
                # convolution + per-channel bias is what quantizers (NNCF's bias correction) expect to find
                conv_bias = post.mean(dim=(1, 2))
                post = post - conv_bias.view(C, 1, 1)
                self.conv = _conv_like(conv, w2, conv_bias)
        device = conv.weight.device
        self.register_buffer('A', A.float().to(device))
        self.register_buffer('post_bias', post.float().to(device))
        self.K, self.C, self.T, self.V, self.impl = K, C, int(frames), V, impl

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C_in, T, V) -> (N, C, T, V)."""
        if self.impl == 'einsum':
            y = self.conv(x).reshape(-1, self.K, self.C, self.T, self.V)
            return torch.einsum('nkctv,kvw->nctw', y, self.A) + self.post_bias
        z = torch.cat([torch.matmul(x, self.A[k]) for k in range(self.K)], dim=1)  # (N, K * C_in, T, W)
        return self.conv(z) + self.post_bias


class FoldedBlock(nn.Module):
    """``ReLU(main(x) + residual(x))`` (``ReLU(main(x))`` without a residual): every posecls GCN block's form."""

    def __init__(self, main: nn.Module, residual: Optional[nn.Module] = None) -> None:
        super().__init__()
        self.main = main
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block."""
        y = self.main(x)
        if self.residual is not None:
            y = y + self.residual(x)
        return torch.relu(y)


class InputAffine(nn.Module):
    """The input BatchNorm as ``x * scale (+ shift)`` on (N, C, T, V, M), then persons folded: (N * M, C, T, V).

    Args:
        scale: (C, V, M') per-channel-and-joint scale (M' = 1: shared by the persons), or None (no BatchNorm).
        shift: Same shape, or None (folded into the first layer).
        shape: (C, T, V, M) of the input.
    """

    def __init__(self, scale: Optional[torch.Tensor], shift: Optional[torch.Tensor], shape: Tuple[int, ...]) -> None:
        super().__init__()
        self.C, self.T, self.V, self.M = (int(d) for d in shape)
        for name, value in (('scale', scale), ('shift', shift)):
            if value is None:
                setattr(self, name, None)
            else:
                self.register_buffer(name, value.float().unsqueeze(1)[None])  # (C, V, M') -> (1, C, 1, V, M')

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, T, V, M) -> (N * M, C, T, V)."""
        if self.scale is not None:
            x = x * self.scale
        if self.shift is not None:
            x = x + self.shift
        if self.M == 1:
            return x.reshape(-1, self.C, self.T, self.V)
        return x.permute(0, 4, 1, 2, 3).reshape(-1, self.C, self.T, self.V)


def input_bn_affine(bn: nn.Module, bn_type: Optional[str], channels: int, joints: int, persons: int
                    ) -> Optional[Affine]:
    """(scale, shift) of shape (C, V, M') of a joint-major input BatchNorm1d (None: no normalisation).

    Args:
        bn: BatchNorm1d over ``V * C`` (``'VC'``, channel ``v * C + c``) or ``M * V * C`` (``'MVC'``), or identity.
        bn_type: ``'VC'``, ``'MVC'`` or None.
        channels: C.
        joints: V.
        persons: M (for ``'MVC'``).
    """
    if bn_type is None or not isinstance(bn, nn.BatchNorm1d):
        return None
    scale, shift = bn_affine(bn)
    m = persons if bn_type == 'MVC' else 1
    to_cvm = lambda t: t.view(m, joints, channels).permute(2, 1, 0)  # noqa: E731  (M', V, C) -> (C, V, M')
    return to_cvm(scale), to_cvm(shift)


class FoldedHead(nn.Module):
    """GCNHead as ReduceMean over (T', V), the mean over persons and one Linear (the 1x1 ``fcn``).

    Args:
        fcn: The head's Conv2d(C, K, 1).
        persons: M (static).
    """

    def __init__(self, fcn: nn.Conv2d, persons: int) -> None:
        super().__init__()
        self.fc = nn.Linear(fcn.in_channels, fcn.out_channels)
        with torch.no_grad():
            self.fc.weight.copy_(fcn.weight.detach()[:, :, 0, 0])
            self.fc.bias.copy_(fcn.bias.detach())
        self.fc.to(fcn.weight.device)
        self.M, self.C = int(persons), fcn.in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N * M, C, T', V) features -> (N, K) logits."""
        x = x.mean(dim=(2, 3))
        if self.M > 1:
            x = x.reshape(-1, self.M, self.C).mean(dim=1)
        return self.fc(x)


class FoldedRecognizer(nn.Module):
    """input -> blocks -> head: the whole folded network, ``(N, C, T, V, M)`` -> ``(N, K)`` logits."""

    def __init__(self, input_norm: nn.Module, blocks: nn.ModuleList, head: nn.Module) -> None:
        super().__init__()
        self.input_norm = input_norm
        self.blocks = blocks
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of raw skeleton sequences."""
        x = self.input_norm(x)
        for block in self.blocks:
            x = block(x)
        return self.head(x)


def fold_conv_bn_inplace(module: nn.Module) -> nn.Module:
    """Fold every ``Conv2d -> BatchNorm2d`` pair of ``module``'s Sequentials and conv + BN units in place.

    Covers the temporal units of ST-GCN++ / CTR-GCN: ``Sequential`` children (a BatchNorm2d right after a
    Conv2d), modules with ``conv`` + ``bn`` attributes (``UnitTCN``), MSTCN's ``transform`` conv followed
    by its ``bn``; dropouts become identities (no-ops in eval mode). BatchNorms after a max-pool or a
    concatenation stay (a negative scale does not commute with max, a ReLU sits before the next conv).
    """
    for child in list(module.children()):
        fold_conv_bn_inplace(child)
    if isinstance(module, nn.Sequential):
        layers = list(module)
        for i in range(len(layers) - 1):
            if isinstance(layers[i], nn.Conv2d) and isinstance(layers[i + 1], nn.BatchNorm2d):
                module[i] = fuse_conv_bn(layers[i], layers[i + 1])
                module[i + 1] = nn.Identity()
    conv, bn = getattr(module, 'conv', None), getattr(module, 'bn', None)
    if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
        module.conv, module.bn = fuse_conv_bn(conv, bn), nn.Identity()
    transform = getattr(module, 'transform', None)
    if isinstance(transform, nn.Sequential) and isinstance(transform[-1], nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
        transform[-1], module.bn = fuse_conv_bn(transform[-1], bn), nn.Identity()
    for name, child in module.named_children():
        if isinstance(child, nn.Dropout):
            setattr(module, name, nn.Identity())
    return module


__all__ = ['bn_affine', 'affine_conv', 'fuse_conv_bn', 'fold_projection', 'FoldedGraphConv', 'FoldedBlock',
           'InputAffine', 'input_bn_affine', 'FoldedHead', 'FoldedRecognizer', 'fold_conv_bn_inplace']
