"""PackPoseInputs: turn a results dict into model inputs and a PoseDataSample."""
from typing import Any, Dict, Sequence

import numpy as np
import torch

from posecls.datasets.transforms.base import BaseTransform
from posecls.registry import TRANSFORMS
from posecls.structures import PoseDataSample


@TRANSFORMS.register_module()
class PackPoseInputs(BaseTransform):
    """Pack ``keypoint`` as a float32 tensor and the label/meta as a PoseDataSample.

    Args:
        meta_keys: Result keys copied into the data sample's metainfo.

    Required keys: ``keypoint`` ((C, T, V, M) or (clips, C, T, V, M)).
    Optional keys: ``label`` (-1 when unlabelled), the meta keys.
    Output: ``dict(inputs=tensor, data_samples=PoseDataSample)``.
    """

    def __init__(self, meta_keys: Sequence[str] = ('sample_name', 'sample_idx')) -> None:
        super().__init__()
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: Dict[str, Any]) -> Dict[str, Any]:
        """Pack one sample."""
        if 'keypoint' not in results:
            raise KeyError(f'PackPoseInputs needs results["keypoint"]; keys present: {sorted(results)}')
        inputs = torch.from_numpy(np.ascontiguousarray(results['keypoint'], dtype=np.float32))
        sample = PoseDataSample()
        sample.set_gt_label(results.get('label', -1))
        sample.set_metainfo({k: results[k] for k in self.meta_keys if k in results})
        return dict(inputs=inputs, data_samples=sample)

    def __repr__(self) -> str:
        return f'PackPoseInputs(meta_keys={self.meta_keys})'
