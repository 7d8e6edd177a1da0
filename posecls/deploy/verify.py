"""Parity checks between two ways of running one model (PyTorch, ONNX Runtime, TensorRT, ...).

Both sides run through :func:`posecls.apis.inference_recognizer` (the one inference
loop) on the same raw sequences, so a parity failure is a difference of the
models, never of the preprocessing.
"""
from typing import Any, Dict, Optional

import numpy as np

#: Documented tolerances on logits (max abs difference) against PyTorch fp32.
#: fp32 ONNX Runtime / TensorRT (TF32 off): float32 rounding only.
FP32_ATOL = 1e-4
#: fp16 TensorRT engines: activations in half precision (10-bit mantissa)
#: through 10 ST-GCN blocks; logits of O(1-10) differ by up to a few 1e-2.
FP16_ATOL = 5e-2


def max_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| (shapes must match)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f'cannot compare outputs of shapes {a.shape} and {b.shape}')
    return float(np.abs(a - b).max()) if a.size else 0.0


def raw_logits(model: Any, x: np.ndarray, batch_size: int = 16) -> np.ndarray:
    """(N, K) logits of raw inputs (N, C, T, V, M) through the inference loop, without a pipeline."""
    from posecls.apis.inference import RAW_PIPELINE, inference_recognizer
    return inference_recognizer(model, np.ascontiguousarray(x, dtype=np.float32), batch_size=batch_size,
                                pipeline=RAW_PIPELINE)


def check_parity(reference: Any, candidate: Any, data: Optional[np.ndarray] = None, atol: float = FP32_ATOL,
                 num_random: int = 4, seed: int = 0, input_shape: Optional[tuple] = None,
                 batch_size: int = 16) -> Dict[str, Any]:
    """Compare ``candidate`` with ``reference`` on random and (optionally) real inputs.

    Args:
        reference: The model the candidate was made from: a recognizer, or a
            backend (e.g. ONNX Runtime on the ONNX file a TensorRT engine was built from).
        candidate: A :class:`posecls.deploy.Backend` or :class:`DeployedRecognizer`.
        data: Real sequences (N, C, T, V, M) matching the candidate's input shape.
        atol: Tolerance on the max abs logit difference (:data:`FP32_ATOL`,
            :data:`FP16_ATOL` for fp16 engines).
        num_random: Random sequences to compare.
        seed: Seed of the random sequences.
        input_shape: (C, T, V, M) of the random inputs (default: the candidate's).
        batch_size: Sequences per call.

    Returns:
        dict with ``max_abs_diff`` per input kind, ``top1_agreement`` (fraction of
        equal argmax), ``atol`` and ``passed``.
    """
    shape = tuple(input_shape if input_shape is not None else candidate.input_shape)
    rng = np.random.default_rng(seed)
    inputs = {'random': rng.standard_normal((num_random, ) + shape).astype(np.float32)}
    if data is not None:
        inputs['real'] = np.ascontiguousarray(data, dtype=np.float32)
    report: Dict[str, Any] = dict(max_abs_diff={}, top1_agreement={}, atol=atol)
    for name, x in inputs.items():
        ref, got = raw_logits(reference, x, batch_size), raw_logits(candidate, x, batch_size)
        report['max_abs_diff'][name] = max_abs_diff(ref, got)
        report['top1_agreement'][name] = float((ref.argmax(1) == got.argmax(1)).mean())
    report['passed'] = all(v <= atol for v in report['max_abs_diff'].values())
    return report


__all__ = ['FP32_ATOL', 'FP16_ATOL', 'max_abs_diff', 'raw_logits', 'check_parity']
