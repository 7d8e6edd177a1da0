"""test_model: the one evaluation driver (tools/test.py, tools/test.py on .onnx/.engine, ``posecls evaluate``).

Every evaluation is mmengine's ``Runner.test`` on the config's ``test_dataloader``: the
same pipeline and seeding, data preprocessor, clip averaging
(:mod:`posecls.models.recognizers.predictions`), metrics (``PoseAccMetric`` with the
confusion matrix, optional ``DumpPredictions``) and report
(:func:`posecls.evaluation.write_evaluation_report`). A deployed model is served by
:class:`posecls.models.recognizers.DeployedRecognizer` in place of the config's model.
"""
import copy
import os.path as osp
from typing import Any, Dict, Optional, Sequence

from mmengine.config import Config

__all__ = ['test_model', 'prepare_test_config']


def prepare_test_config(cfg: Config, checkpoint: str, device: str = 'cpu', dump: Optional[str] = None,
                        topk: Optional[Sequence[int]] = None, backend_options: Optional[dict] = None) -> Config:
    """The config ``Runner.test`` evaluates ``checkpoint`` with.

    Args:
        cfg: A training/test config (``model``, ``test_dataloader``, ``test_cfg``, ``test_evaluator``).
        checkpoint: A checkpoint (any format posecls reads, trained for the config's classes) or an
            exported model (``.onnx``, TensorRT engine).
        device: Runtime device of an exported model (a checkpoint runs where mmengine puts the model).
        dump: Also write the predictions to this ``.npz`` / ``.json`` / ``.pkl`` file.
        topk: Top-k accuracies instead of the config's (TAO's evaluate reports top-1 only).
        backend_options: Extra ``init_backend`` arguments for an exported model.

    Returns:
        A copy of ``cfg`` with ``load_from`` / ``model``, ``resume=False`` and the test evaluators set.

    Raises:
        FileNotFoundError: ``checkpoint`` does not exist.
        ValueError: the config has no ``test_dataloader``.
    """
    from posecls.deploy.backends import is_deployed_model
    from posecls.models.recognizers import deployed_model_config

    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {checkpoint}')
    if not cfg.get('test_dataloader'):
        raise ValueError('the config has no test_dataloader: set test_dataloader.dataset.data_path / label_path '
                         '(tools/test.py --cfg-options ...) to say what to evaluate')
    cfg = copy.deepcopy(cfg)
    if is_deployed_model(checkpoint):
        cfg.model = deployed_model_config(cfg.model, checkpoint, device, **(backend_options or {}))
        cfg.load_from = None
    else:
        cfg.load_from = checkpoint
    cfg.resume = False
    cfg.test_cfg = cfg.get('test_cfg') or dict(type='TestLoop')
    evaluators = cfg.get('test_evaluator') or [dict(type='PoseAccMetric', topk=(1, 5))]
    evaluators = [dict(e) for e in (evaluators if isinstance(evaluators, (list, tuple)) else [evaluators])]
    for ev in evaluators:
        if ev.get('type') == 'PoseAccMetric':
            ev['with_confusion_matrix'] = True
            if topk is not None:
                ev['topk'] = tuple(topk)
    if dump:
        evaluators.append(dict(type='DumpPredictions', out_file=dump))
    cfg.test_evaluator = evaluators
    return cfg


def test_model(cfg: Config, checkpoint: str, *, device: str = 'cpu', dump: Optional[str] = None,
               out_dir: Optional[str] = None, topk: Optional[Sequence[int]] = None,
               backend_options: Optional[dict] = None, echo: bool = True) -> Dict[str, Any]:
    """Evaluate ``checkpoint`` on ``cfg.test_dataloader`` with ``Runner.test`` and write the report.

    Args:
        cfg: Config (``work_dir`` set; :func:`posecls.tools.common.load_config` does it).
        checkpoint: Checkpoint or exported model (see :func:`prepare_test_config`).
        device: Runtime device of an exported model.
        dump: Predictions file (``.npz`` / ``.json`` / ``.pkl``).
        out_dir: Folder of the report (default: the run's log folder ``<work_dir>/<timestamp>``).
        topk: Top-k accuracies instead of the config's.
        backend_options: Extra ``init_backend`` arguments.
        echo: Print TAO's table.

    Returns:
        The metrics (``acc/top1``, ``acc/mean1``, ``loss``, ``confusion_matrix`` ...), plus on rank 0
        ``report`` (paths of metrics.json, confusion_matrix.csv/.png), ``summary`` and ``table``.
    """
    from posecls.evaluation.report import write_evaluation_report
    from posecls.tools.common import build_runner

    runner = build_runner(prepare_test_config(cfg, checkpoint, device, dump, topk, backend_options))
    metrics = runner.test()
    if runner.rank == 0 and 'confusion_matrix' in metrics:
        classes = runner.test_dataloader.dataset.metainfo.get('classes')
        out_dir = out_dir or runner.log_dir
        report = write_evaluation_report(metrics, classes, out_dir, echo=echo)
        metrics = dict(metrics, report=report['paths'], summary=report['summary'], table=report['table'])
        if echo:
            print(f'Evaluation report written to {out_dir}', flush=True)
    return metrics
