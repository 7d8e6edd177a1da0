"""PoseAccMetric: top-k, mean-class accuracy, cross-entropy loss and confusion matrix."""
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric

from posecls.engine.schedulers.auto_reduce_lr import VAL_LOSS_KEY
from posecls.evaluation.functional import confusion_matrix, cross_entropy, per_class_accuracy, topk_accuracy
from posecls.registry import METRICS


@METRICS.register_module()
class PoseAccMetric(BaseMetric):
    """Accuracy metrics of a skeleton classifier.

    Reports (fractions in [0, 1]): ``acc/top1``, ``acc/top{k}`` for each k in
    ``topk``, ``acc/mean1`` (mean per-class top-1 over classes with samples),
    and ``loss`` (mean cross-entropy of the logits -- what TAO's AutoReduce
    monitors as ``val_loss``). With ``with_confusion_matrix`` it also returns
    ``confusion_matrix`` (rows = truth, columns = prediction, list of lists)
    and ``per_class_acc``.

    In distributed evaluation mmengine gathers every rank's results in dataset
    order and drops sampler padding before :meth:`compute_metrics`, so the
    numbers equal a single-process run.

    Args:
        topk: k values for top-k accuracy (capped at the class count).
        with_confusion_matrix: Also return the confusion matrix.
        collect_device: ``'cpu'`` or ``'gpu'`` for gathering.
        prefix: Optional key prefix.
    """

    default_prefix: Optional[str] = ''  # keys are already namespaced ('acc/top1', 'loss')

    def __init__(self, topk: Sequence[int] = (1, 5), with_confusion_matrix: bool = False,
                 collect_device: str = 'cpu', prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if 1 not in topk:
            topk = (1, ) + tuple(topk)
        self.topk = tuple(sorted(set(int(k) for k in topk)))
        self.with_confusion_matrix = with_confusion_matrix

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Keep the logits and label of every sample."""
        for ds in data_samples:
            logits = ds['pred_logits']
            self.results.append(dict(logits=logits.detach().cpu().float().numpy(),
                                     label=int(ds['gt_label']) if 'gt_label' in ds else -1))

    def compute_metrics(self, results: List[dict]) -> Dict[str, Any]:
        """Compute the metrics from all gathered samples."""
        logits = np.stack([r['logits'] for r in results])
        labels = np.array([r['label'] for r in results], dtype=np.int64)
        num_classes = logits.shape[1]
        if (labels < 0).any():
            raise ValueError(f'{int((labels < 0).sum())} evaluated samples have no label (-1): evaluation needs '
                             'a label_path for the dataset')
        if (labels >= num_classes).any():
            raise ValueError(f'labels up to {labels.max()} but the model predicts {num_classes} classes')
        preds = logits.argmax(axis=1)
        cm = confusion_matrix(labels, preds, num_classes)
        pca = per_class_accuracy(cm)
        metrics: Dict[str, Any] = {f'acc/top{k}': topk_accuracy(logits, labels, k) for k in self.topk}
        metrics['acc/mean1'] = float(np.nanmean(pca))
        metrics[VAL_LOSS_KEY] = cross_entropy(logits, labels)
        if self.with_confusion_matrix:
            metrics['confusion_matrix'] = cm.tolist()
            metrics['per_class_acc'] = [None if np.isnan(x) else float(x) for x in pca]
        return metrics
