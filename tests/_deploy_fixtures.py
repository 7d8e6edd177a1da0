"""Helpers of the deployment tests (the ``tiny_deploy`` fixture itself lives in conftest.py)."""

import numpy as np
import torch

from conftest import TINY_T

TINY_SHAPE = (3, TINY_T, 34, 1)


def torch_logits(model, x: np.ndarray) -> np.ndarray:
    """Logits of raw inputs by calling the PyTorch model directly (independent of posecls's inference loop)."""
    with torch.no_grad():
        return model(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), mode='tensor').numpy()
