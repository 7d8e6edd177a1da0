"""DumpPredictions: write every sample's logits, scores and labels to a file."""
import json
import os.path as osp
import pickle
from typing import Any, Dict, List, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric

from posecls.registry import METRICS
from posecls.utils.atomic_io import atomic_open

DUMP_FORMATS = ('.pkl', '.npz', '.json')


@METRICS.register_module()
class DumpPredictions(BaseMetric):
    """Dump predictions of the evaluated set (``tools/test.py --dump``).

    Formats by suffix:
        ``.npz``: arrays ``logits`` (N, K), ``scores`` (N, K), ``labels`` (N,), ``names``;
        ``.json``: a list of ``{sample_name, gt_label, pred_label, pred_logits, pred_score}``;
        ``.pkl``: MMAction2's ``--dump`` layout, a list of dicts with numpy
        ``pred_score`` / ``pred_logits`` and int labels (read it with your own
        trusted code; posecls never unpickles such files).

    Args:
        out_file: Output path with one of the suffixes above.
    """

    default_prefix = ''

    def __init__(self, out_file: str, collect_device: str = 'cpu') -> None:
        super().__init__(collect_device=collect_device)
        suffix = osp.splitext(out_file)[1]
        if suffix not in DUMP_FORMATS:
            raise ValueError(f'dump file {out_file}: suffix must be one of {DUMP_FORMATS}')
        self.out_file = out_file

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Keep each sample's prediction."""
        for ds in data_samples:
            self.results.append(dict(
                sample_name=ds.get('sample_name', str(ds.get('sample_idx', len(self.results)))),
                gt_label=int(ds['gt_label']) if 'gt_label' in ds else -1,
                pred_label=int(ds['pred_label']),
                pred_logits=ds['pred_logits'].cpu().float().numpy(),
                pred_score=ds['pred_score'].cpu().float().numpy()))

    def compute_metrics(self, results: List[dict]) -> Dict[str, Any]:
        """Write the file; returns no metric."""
        suffix = osp.splitext(self.out_file)[1]
        if suffix == '.npz':
            with atomic_open(self.out_file) as f:
                np.savez(f, logits=np.stack([r['pred_logits'] for r in results]),
                         scores=np.stack([r['pred_score'] for r in results]),
                         labels=np.array([r['gt_label'] for r in results]),
                         names=np.array([r['sample_name'] for r in results]))
        elif suffix == '.json':
            rows = [dict(r, pred_logits=r['pred_logits'].tolist(), pred_score=r['pred_score'].tolist())
                    for r in results]
            with atomic_open(self.out_file, 'w') as f:
                json.dump(rows, f)
        else:
            with atomic_open(self.out_file) as f:
                pickle.dump(results, f, protocol=4)
        return {}
