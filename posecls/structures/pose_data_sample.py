"""PoseDataSample: the label and prediction record that travels with each sequence."""
from typing import Union

import numpy as np
import torch
from mmengine.structures import BaseDataElement


class PoseDataSample(BaseDataElement):
    """Per-sequence annotation and prediction.

    Fields (all optional):
        gt_label (torch.Tensor): () int64 ground-truth class id (-1 when unlabelled).
        pred_logits (torch.Tensor): (num_classes,) raw logits, TAO's ``fc_pred``.
        pred_score (torch.Tensor): (num_classes,) softmax probabilities.
        pred_label (torch.Tensor): () int64 argmax class id.

    Metainfo (set by the dataset): ``sample_name``, ``sample_idx``.
    """

    def set_gt_label(self, value: Union[int, np.integer, torch.Tensor]) -> 'PoseDataSample':
        """Set ``gt_label`` from an int or a scalar tensor."""
        self.gt_label = torch.as_tensor(int(value), dtype=torch.long)
        return self
