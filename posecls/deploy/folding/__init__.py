"""The smallest exact export graph of a recognizer: constants folded, BatchNorm folded, static reshapes.

Two steps, both exact up to float32 rounding (the export parity check compares the result with the original
model through the one inference loop):

1. :func:`fold_for_export` builds, from deep copies of a trained recognizer's backbone and head (the caller's
   model, its state_dict and its training state are never touched), a :class:`FoldedRecognizer`:
   ``A * edge_importance`` as one constant per block, every BatchNorm folded into the layer before it where
   that is exact (conv -> BN, graph aggregation -> BN; not across a ReLU, a max-pool or a concatenation),
   the input BatchNorm as a multiply in the input layout, and reshapes with static sizes (only the batch axis
   is dynamic), so the ONNX graph has no Shape/Gather chains. What each backbone folds: :mod:`.backbones`.
   Backbones without a rule (ProtoGCN, subclasses, user backbones; :func:`foldable` says why) are exported
   as they are.
2. :func:`optimize_graph` runs onnxscript's optimizer on the exported ONNX graph (constant folding, shape
   Constant nodes lifted to initializers, duplicate initializers and Identity nodes removed, common
   subexpressions merged), for every backbone.
"""
import copy
from typing import Callable, Dict, List, Optional, Sequence

import onnx
import torch
from torch import nn

from .backbones import fold_ctrgcn, fold_stgcn, fold_stgcnpp
from .ops import FoldedHead, FoldedRecognizer

#: backbone class name -> fold function (exact classes of posecls.models.backbones: a subclass may change the
#: forward pass, so it is exported unfolded)
FOLDERS: Dict[str, Callable] = {'STGCN': fold_stgcn, 'STGCNPP': fold_stgcnpp, 'CTRGCN': fold_ctrgcn}
#: heads whose eval-mode forward is GCNHead's (pool over (T', V), mean over persons, 1x1 ``fcn``)
HEADS = ('GCNHead', 'ProtoGCNHead')
#: recognizers whose ``mode='tensor'`` is ``cls_head(backbone(x))``
RECOGNIZERS = ('SkeletonRecognizer', 'ProtoGCNRecognizer')


def _block_frames(backbone: nn.Module, shape: Sequence[int]) -> List[int]:
    """T at the input of every block for an input of ``shape`` (one dummy forward pass with hooks)."""
    frames: List[int] = []
    hooks = [b.register_forward_pre_hook(lambda _m, args: frames.append(int(args[0].shape[2])))
             for b in backbone.blocks]
    try:
        device = next(backbone.parameters()).device
        with torch.no_grad():
            backbone(torch.zeros((1, ) + tuple(shape), device=device))
    finally:
        for h in hooks:
            h.remove()
    return frames


def _is_posecls_class(obj: nn.Module, names: Sequence[str], package: str) -> bool:
    """``obj``'s class is exactly one of posecls's classes ``names`` defined under ``package`` (no subclass)."""
    cls = type(obj)
    return cls.__name__ in names and cls.__module__.startswith(package)


def foldable(model: nn.Module) -> Optional[str]:
    """Why ``model`` has no folding rule (None: :func:`fold_for_export` folds it)."""
    if not _is_posecls_class(model, RECOGNIZERS, 'posecls.models.recognizers'):
        return f'recognizer {type(model).__name__} has no folding rule (folded: {", ".join(RECOGNIZERS)})'
    backbone, head = getattr(model, 'backbone', None), getattr(model, 'cls_head', None)
    if not _is_posecls_class(backbone, tuple(FOLDERS), 'posecls.models.backbones'):
        return f'backbone {type(backbone).__name__} has no folding rule (folded: {", ".join(FOLDERS)})'
    if not _is_posecls_class(head, HEADS, 'posecls.models.heads') or not isinstance(getattr(head, 'fcn', None),
                                                                                  nn.Conv2d):
        return f'head {type(head).__name__} has no folding rule (folded: {", ".join(HEADS)})'
    return None


def fold_for_export(model: nn.Module, input_shape: Sequence[int], impl: str = 'einsum') -> nn.Module:
    """The folded network of ``model`` for inputs ``(N, *input_shape)``: ``forward(x) -> (N, K)`` logits.

    Args:
        model: A SkeletonRecognizer in eval mode with an STGCN / STGCNPP / CTRGCN backbone and a GCNHead.
            It is not modified (the backbone and head are deep-copied first).
        input_shape: (C, T, V, M) of the export (T is static in the folded graph).
        impl: Graph aggregation ``'einsum'`` (TAO's Einsum node) or ``'matmul'``.

    Returns:
        nn.Module: A :class:`FoldedRecognizer` in eval mode, (N, C, T, V, M) -> (N, K) logits.

    Raises:
        ValueError: the model has no folding rule (:func:`foldable` says why) or is in training mode.
    """
    why = foldable(model)
    if why is not None:
        raise ValueError(f'cannot fold {type(model).__name__}: {why}; export with fold=False (--no-fold)')
    if model.training:
        raise ValueError('fold_for_export needs the model in eval mode (BatchNorm running statistics)')
    if impl not in ('einsum', 'matmul'):
        raise ValueError(f"impl must be 'einsum' or 'matmul', got {impl!r}")
    shape = tuple(int(d) for d in input_shape)
    backbone, head = copy.deepcopy(model.backbone).eval(), copy.deepcopy(model.cls_head).eval()
    frames = _block_frames(backbone, shape)
    with torch.no_grad():
        input_norm, blocks = FOLDERS[type(backbone).__name__](backbone, frames, shape, impl)
        folded = FoldedRecognizer(input_norm, nn.ModuleList(blocks), FoldedHead(head.fcn, shape[3]))
    return folded.eval()


def optimize_graph(proto: onnx.ModelProto) -> onnx.ModelProto:
    """onnxscript's optimizer on an exported graph (exact rewrites only: constant folding, dead/duplicate removal).

    The intermediate shapes the optimizer's shape inference records (``value_info``) are dropped again: runtimes
    infer them, and in a small model they would outweigh the weights.

    Args:
        proto: An exported model (any opset the exporters write).

    Returns:
        onnx.ModelProto: The optimized model, same opset, inputs and outputs (dynamic axis names kept).
    """
    from onnxscript import optimizer
    proto = optimizer.optimize(proto)
    del proto.graph.value_info[:]
    return proto


__all__ = ['fold_for_export', 'foldable', 'optimize_graph', 'FOLDERS', 'FoldedRecognizer']
