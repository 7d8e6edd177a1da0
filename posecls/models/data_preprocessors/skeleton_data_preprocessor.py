"""Stack skeleton sequences into a batch tensor on the model's device."""
from typing import Any, Dict

import torch
from mmengine.model import BaseDataPreprocessor

from posecls.registry import MODELS
from posecls.utils.input_checks import NonFiniteInputError, non_finite_samples


@MODELS.register_module()
class SkeletonDataPreprocessor(BaseDataPreprocessor):
    """Collate ``inputs`` (a list of (C, T, V, M) tensors, or of (clips, C, T, V, M))
    into one float tensor on the model's device.

    Outside training a batch holding NaN or +-inf is refused (:class:`NonFiniteInputError`
    naming the samples' ``sample_idx`` / ``sample_name``): such a sample has no class.
    (Training data is checked when the dataset opens its file.)

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
        if not training:
            _refuse_non_finite(inputs, data.get('data_samples'))
        data = dict(data, inputs=inputs)
        return self.cast_data(data)


def _refuse_non_finite(inputs: torch.Tensor, data_samples: Any) -> None:
    bad = non_finite_samples(inputs)
    if not bad:
        return
    names, ids = [], []
    for i in bad:
        ds = data_samples[i] if data_samples is not None and i < len(data_samples) else None
        meta = ds.metainfo if ds is not None else {}
        ids.append(int(meta.get('sample_idx', i)))
        names.append(f"sample {ids[-1]}" + (f" ({meta['sample_name']!r})" if 'sample_name' in meta else ''))
    more = f' and {len(bad) - 1} more' if len(bad) > 1 else ''
    raise NonFiniteInputError(f'{names[0]}{more} holds NaN or infinite values; refusing to classify it (check '
                              'the converter / tracker output for that sequence)', ids)
