"""Evaluate a deployed model (ONNX Runtime / TensorRT backend) on a config's test set with posecls's metrics."""
import os.path as osp
import time
from typing import Any, Dict, List, Optional

import numpy as np
import torch
from mmengine.config import Config
from mmengine.evaluator import Evaluator

from posecls.apis import inference_recognizer
from posecls.evaluation.report import write_evaluation_report
from posecls.registry import DATASETS, METRICS
from posecls.utils import register_all_modules

from .backends.base import Backend


def _test_metrics(cfg: Config, dump: Optional[str]) -> List[Any]:
    evaluators = cfg.get('test_evaluator') or [dict(type='PoseAccMetric', topk=(1, 5))]
    evaluators = [dict(e) for e in (evaluators if isinstance(evaluators, list) else [evaluators])]
    for ev in evaluators:
        if ev.get('type') == 'PoseAccMetric':
            ev['with_confusion_matrix'] = True
    if dump:
        evaluators.append(dict(type='DumpPredictions', out_file=dump))
    return [METRICS.build(e) for e in evaluators]


def evaluate_backend(backend: Backend, cfg: Config, out_dir: Optional[str] = None, dump: Optional[str] = None,
                     batch_size: int = 16) -> Dict[str, Any]:
    """Run ``backend`` over ``cfg.test_dataloader.dataset`` and compute the test evaluator's metrics.

    The same test pipeline as the PyTorch path is applied
    (:func:`posecls.apis.inference_recognizer`), the metrics are computed by the
    config's ``test_evaluator`` (PoseAccMetric with the confusion matrix), and
    TAO's table / metrics JSON / confusion matrix are written by
    :func:`write_evaluation_report`.

    Args:
        backend: From :func:`posecls.deploy.init_backend`.
        cfg: Config with ``test_dataloader`` (dataset with labels) and ``test_evaluator``.
        out_dir: Folder for the report (default ``<work_dir>/<timestamp>``).
        dump: Optional predictions file (.pkl / .npz / .json, like ``tools/test.py --dump``).
        batch_size: Sequences per backend call.

    Returns:
        The metrics dict (``acc/top1``, ... , ``confusion_matrix``) plus ``report`` (written paths).
    """
    register_all_modules(init_default_scope=False)
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    backend.cfg = cfg
    num_classes = len(dataset.classes) if dataset.classes else None
    classes = dataset.classes or backend.dataset_meta.get('classes')
    data = np.load(dataset.data_path, mmap_mode='r', allow_pickle=False)
    logits = inference_recognizer(backend, data, batch_size=batch_size)
    if num_classes is not None and logits.shape[1] != num_classes:
        raise ValueError(f'{backend.model_file} predicts {logits.shape[1]} classes but the test dataset '
                         f'({dataset.data_path}) has {num_classes}')
    evaluator = Evaluator(_test_metrics(cfg, dump))
    samples = []
    for i, row in enumerate(logits):
        lg = torch.from_numpy(row)
        score = lg.softmax(-1)
        samples.append(dict(pred_logits=lg, pred_score=score, pred_label=score.argmax(),
                            gt_label=torch.tensor(dataset.labels[i]), sample_name=dataset.sample_names[i],
                            sample_idx=i))
    evaluator.process(samples)
    metrics = evaluator.evaluate(len(samples))
    if 'confusion_matrix' in metrics:
        out_dir = out_dir or osp.join(cfg.get('work_dir') or 'work_dirs', time.strftime('%Y%m%d_%H%M%S'))
        report = write_evaluation_report(metrics, classes, out_dir)
        metrics = dict(metrics, report=report['paths'])
        print(f'Evaluation report written to {out_dir}', flush=True)
    return metrics
