"""``posecls evaluate``: TAO's accuracy table on stdout, metrics JSON and confusion matrix CSV/PNG.

A plain loop over the evaluation set through ``inference_recognizer``, so a
PyTorch checkpoint and a posecls.deploy backend (ONNX / TensorRT) are evaluated
the same way; numbers come from PoseAccMetric, like ``tools/test.py``.
"""
from typing import Any, Dict

from posecls.tao.spec import task_results_dir
from posecls.tao.tasks.common import batch_size, class_names, load_model_or_backend, open_dataset, single_device


def run(spec: Dict[str, Any], argv=None) -> Dict[str, Any]:
    """Evaluate; returns the metrics with ``report`` (paths of the written files)."""
    import torch

    from posecls.apis import inference_recognizer
    from posecls.evaluation.metrics import PoseAccMetric
    from posecls.evaluation.report import write_evaluation_report

    ev = spec['evaluate']
    out_dir = task_results_dir(spec, 'evaluate')
    plan = single_device(spec, 'evaluate')
    classes = class_names(spec)
    dataset = open_dataset(spec, ev['test_dataset'])
    model = load_model_or_backend(spec, 'evaluate', plan.device)
    logits = inference_recognizer(model, dataset.data, batch_size=batch_size(spec, 'evaluate'))
    metric = PoseAccMetric(topk=(1, ), with_confusion_matrix=True)  # TAO reports top-1 only
    metric.process(None, [dict(pred_logits=torch.from_numpy(row), gt_label=label)
                          for row, label in zip(logits, dataset.labels)])
    metrics = metric.compute_metrics(metric.results)
    report = write_evaluation_report(metrics, classes, out_dir)
    print(f"Evaluated {len(dataset)} sequences of {ev['test_dataset']['data_path']}; report written to {out_dir}",
          flush=True)
    return dict(metrics, report=report['paths'], summary=report['summary'])
