"""Stack skeleton sequences into a batch tensor on the model's device."""
from typing import Any, Dict

import torch
from mmengine.model import BaseDataPreprocessor

from posecls.registry import MODELS


@MODELS.register_module()
class SkeletonDataPreprocessor(BaseDataPreprocessor):
    """Collate ``inputs`` (a list of (C, T, V, M) tensors, or of (clips, C, T, V, M))
    into one float tensor on the model's device.

    Args:
        to_float32: Cast inputs to float32.
    """

    def __init__(self, to_float32: bool = True) -> None:
        super().__init__()
        self.to_float32 = to_float32

    def forward(self, data: Dict[str, Any], training: bool = False) -> Dict[str, Any]:
        """Stack, cast and move ``data['inputs']``; move data samples as well."""
        inputs = data['inputs']
        if isinstance(inputs, (list, tuple)):
            shapes = {tuple(x.shape) for x in inputs}
            if len(shapes) > 1:
                raise ValueError(f'cannot batch sequences of different shapes {sorted(shapes)}; use a pipeline '
                                 'that gives every sample the same (C, T, V, M), e.g. AutoPad/RandomChoose')
            inputs = torch.stack(list(inputs))
        if self.to_float32:
            inputs = inputs.float()
        data = dict(data, inputs=inputs)
        return self.cast_data(data)
