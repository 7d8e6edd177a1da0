"""Parity checks between a PyTorch recognizer and a deployed backend."""
from typing import Any, Dict, Optional

import numpy as np
import torch
from torch import nn

#: Documented tolerances on logits (max abs difference) against PyTorch fp32.
#: fp32 ONNX Runtime / TensorRT (TF32 off): float32 rounding only.
FP32_ATOL = 1e-4
#: fp16 TensorRT engines: activations in half precision (10-bit mantissa)
#: through 10 ST-GCN blocks; logits of O(1-10) differ by up to a few 1e-2.
FP16_ATOL = 5e-2


def torch_logits(model: nn.Module, x: np.ndarray, batch_size: int = 16) -> np.ndarray:
    """PyTorch logits (N, K) of raw inputs (N, C, T, V, M) (no pipeline)."""
    device = next(model.parameters()).device
    outs = []
    with torch.no_grad():
        for i in range(0, x.shape[0], batch_size):
            xb = torch.from_numpy(np.array(x[i:i + batch_size], dtype=np.float32)).to(device)
            outs.append(model(xb, mode='tensor').float().cpu().numpy())
    return np.concatenate(outs)


def max_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| (shapes must match)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f'cannot compare outputs of shapes {a.shape} and {b.shape}')
    return float(np.abs(a - b).max()) if a.size else 0.0


def check_parity(model: nn.Module, backend: Any, data: Optional[np.ndarray] = None, atol: float = FP32_ATOL,
                 num_random: int = 4, seed: int = 0) -> Dict[str, Any]:
    """Compare ``backend.infer`` with the PyTorch model on random and (optionally) real inputs.

    Args:
        model: The recognizer the backend was exported from (eval mode).
        backend: A :class:`posecls.deploy.Backend`.
        data: Real sequences (N, C, T, V, M) matching ``backend.input_shape``.
        atol: Tolerance on the max abs logit difference (:data:`FP32_ATOL`,
            :data:`FP16_ATOL` for fp16 engines).
        num_random: Random sequences to compare.
        seed: Seed of the random sequences.

    Returns:
        dict with ``max_abs_diff`` per input kind, ``top1_agreement`` (fraction of
        equal argmax), ``atol`` and ``passed``.
    """
    rng = np.random.default_rng(seed)
    inputs = {'random': rng.standard_normal((num_random, ) + tuple(backend.input_shape)).astype(np.float32)}
    if data is not None:
        inputs['real'] = np.ascontiguousarray(data, dtype=np.float32)
    report: Dict[str, Any] = dict(max_abs_diff={}, top1_agreement={}, atol=atol)
    for name, x in inputs.items():
        ref, got = torch_logits(model, x), backend.infer(x)
        report['max_abs_diff'][name] = max_abs_diff(ref, got)
        report['top1_agreement'][name] = float((ref.argmax(1) == got.argmax(1)).mean())
    report['passed'] = all(v <= atol for v in report['max_abs_diff'].values())
    return report
