"""``posecls evaluate``: TAO's accuracy table on stdout, metrics JSON and confusion matrix CSV/PNG.

The spec becomes a config (:func:`posecls.tao.tasks.common.task_config`) and the one
evaluation driver, :func:`posecls.apis.test.test_model` (mmengine's ``Runner.test``),
evaluates the checkpoint or the deployed model (ONNX / OpenVINO IR / TensorRT; runtime and precision:
``evaluate.backend`` / ``evaluate.precision``), exactly as ``tools/test.py`` does. TAO reports top-1 only.
"""
from typing import Any, Dict

from posecls.tao.spec import task_results_dir
from posecls.tao.tasks.common import runtime_options, single_device, task_checkpoint, task_config


def run(spec: Dict[str, Any], argv=None) -> Dict[str, Any]:
    """Evaluate; returns the metrics with ``report`` (paths of the written files) and ``summary``."""
    from posecls.apis.test import test_model

    ev = spec['evaluate']
    out_dir = task_results_dir(spec, 'evaluate')
    plan = single_device(spec, 'evaluate')
    cfg = task_config(spec, 'evaluate', ev['test_dataset'])
    metrics = test_model(cfg, task_checkpoint(spec, 'evaluate'), device=plan.device, out_dir=out_dir, topk=(1, ),
                         backend_options=runtime_options(spec, 'evaluate'))
    n = sum(sum(row) for row in metrics['confusion_matrix'])
    print(f"Evaluated {n} sequences of {ev['test_dataset']['data_path']}; report written to {out_dir}", flush=True)
    return metrics
