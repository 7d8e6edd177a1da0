"""``build_report``: one self-contained HTML page about a trained run (what ``posecls report WORK_DIR`` writes).

Sections: the model card; per-epoch curves from the run's own scalars; the evaluation table; the confusion
matrix and the most confused pairs; per-class precision / recall / F1; the most confidently misclassified
samples as skeleton animations drawn with the model's layout (built-in or user-registered).

The evaluation is the one evaluation driver's (:func:`posecls.apis.test.test_model`): an earlier evaluation of
the checkpoint with a predictions dump is reused (:func:`posecls.report.collect.find_evaluation`); without one
the report runs it into ``<work_dir>/report/eval/``.
"""
import html as html_lib
import os
import os.path as osp
import time
from datetime import datetime
from typing import Any, Callable, Dict, List, Optional

import numpy as np

from posecls.report import collect
from posecls.report.animations import animation_title, skeleton_animation
from posecls.report.card import layout_label, model_card
from posecls.report.figures import confusion_matrix_figure, per_class_figure, training_curves
from posecls.report.html import figure, page, table
from posecls.utils.atomic_io import atomic_open

REPORT_FILE = 'report.html'
REPORT_DIR = 'report'


def _pct(v: Optional[float]) -> str:
    return 'n/a' if v is None or (isinstance(v, float) and np.isnan(v)) else f'{100 * v:.2f}'


def _run_config(work_dir: str, meta: Dict[str, Any], config: Optional[str], cfg_options: Optional[dict],
                verbose: bool):
    """The run's config (``config``, else the checkpoint's ``meta.cfg`` written to ``report/config.py``)."""
    from posecls.tools.common import load_config
    report_dir = osp.join(work_dir, REPORT_DIR)
    if config is None:
        os.makedirs(report_dir, exist_ok=True)
        config = osp.join(report_dir, 'config.py')
        with atomic_open(config, 'w') as f:
            f.write(collect.run_config_text(work_dir, meta))
    return load_config(config, cfg_options, work_dir=osp.join(report_dir, 'eval'), verbose=verbose)


def _reused(ev: Dict[str, Any], cfg_options: Optional[dict]) -> Dict[str, Any]:
    """An earlier evaluation, its config with ``cfg_options`` (e.g. moved data) applied as to the run's."""
    from posecls.utils.config import merge_cfg_options
    merge_cfg_options(ev['config'], cfg_options)
    return dict(ev, seconds=None)


def _evaluation(cfg, work_dir: str, checkpoint: str, eval_dir: Optional[str], cfg_options: Optional[dict],
                echo: Callable[[str], None]) -> Dict[str, Any]:
    """The evaluation of ``checkpoint``: ``eval_dir``'s, else the newest in ``work_dir``, else a new one by
    :func:`posecls.apis.test.test_model` (the one evaluation driver) in ``<work_dir>/report/eval``."""
    if eval_dir is not None:
        ev = collect.find_evaluation([eval_dir], checkpoint)
        if ev is None:
            raise FileNotFoundError(f'--eval-dir {eval_dir}: no evaluation of {checkpoint} with a .npz/.json '
                                    'predictions dump (metrics.json next to vis_data/config.py, written after the '
                                    'checkpoint); run tools/test.py CONFIG CKPT --dump FILE.npz, or leave --eval-dir '
                                    'out and the report evaluates')
        return _reused(ev, cfg_options)
    ev = collect.find_evaluation([work_dir], checkpoint)
    if ev is not None:
        return _reused(ev, cfg_options)
    from posecls.apis.test import test_model
    out = osp.join(work_dir, REPORT_DIR, 'eval')
    echo(f'Evaluating {checkpoint} on the test set ({out})')
    t0 = time.perf_counter()
    test_model(cfg, checkpoint, dump=osp.join(out, 'predictions.npz'), echo=False)
    seconds = time.perf_counter() - t0
    ev = collect.find_evaluation([out], checkpoint)
    if ev is None:  # pragma: no cover - test_model always writes both
        raise RuntimeError(f'the evaluation in {out} wrote no metrics.json / predictions dump')
    return dict(ev, seconds=seconds)


def _layout(model: Any, cfg) -> Any:
    """The skeleton layout the model was built with (``backbone.graph.layout``), else the config's."""
    from posecls.graphs import get_layout
    graph = getattr(getattr(model, 'backbone', None), 'graph', None)
    if getattr(graph, 'layout', None) is not None:
        return graph.layout
    layout = ((cfg.model.get('backbone') or {}).get('graph_cfg') or {}).get('layout')
    if layout is None:
        raise ValueError('config model.backbone.graph_cfg.layout: not set, and the backbone has no graph; the '
                         "report draws the samples with the layout's edges")
    return get_layout(layout)


def _misclassified(pred: Dict[str, np.ndarray], k: int) -> np.ndarray:
    wrong = np.flatnonzero((pred['labels'] >= 0) & (pred['preds'] != pred['labels']))
    confidence = pred['scores'][wrong, pred['preds'][wrong]]
    return wrong[np.argsort(-confidence, kind='stable')][:max(k, 0)]


def build_report(work_dir: str, out: Optional[str] = None, *, checkpoint: Optional[str] = None,
                 config: Optional[str] = None, eval_dir: Optional[str] = None, num_samples: int = 8,
                 max_frames: int = 100, vertical: str = 'auto', confused_pairs: int = 10,
                 cfg_options: Optional[dict] = None, verbose: bool = False,
                 echo: Callable[[str], None] = print) -> Dict[str, Any]:
    """Write the HTML report of a training work dir.

    Args:
        work_dir: The run's folder (checkpoints, ``training_history.json``, logs).
        out: Output file (default ``<work_dir>/report.html``).
        checkpoint: Checkpoint to report on (default: the work dir's latest).
        config: Config to use (default: the one the checkpoint was trained with).
        eval_dir: Folder of an evaluation of the checkpoint to use (default: the newest one in the work dir, or a
            new one in ``<work_dir>/report/eval/``).
        num_samples: Misclassified samples to animate (the most confident mistakes first).
        max_frames: Most frames per animation.
        vertical: Direction of the second coordinate in the animations (``auto``, ``up``, ``down``).
        confused_pairs: Rows of the most-confused-pairs table.
        cfg_options: Config overrides (e.g. the test data's paths).
        verbose: mmengine's full log during an evaluation.
        echo: Where progress lines go.

    Returns:
        dict: ``path`` (the HTML file), ``evaluation`` (its folder), ``evaluated`` (the report ran it),
        ``misclassified`` (samples animated), ``accuracy`` (top-1 %), ``bytes``.

    Raises:
        FileNotFoundError: no work dir, checkpoint, config or evaluation where one was named.
        ValueError: options out of range, or a predictions dump that does not match its metrics.
    """
    from posecls.evaluation.functional import confusion_matrix, most_confused_pairs, precision_recall_f1
    from posecls.report.animations import VERTICAL

    bad = [f'{name}={value} (expected >= {low})' for name, value, low in (
        ('num_samples', num_samples, 0), ('max_frames', max_frames, 1), ('confused_pairs', confused_pairs, 0))
        if value < low]
    if bad:
        raise ValueError('out of range: ' + ', '.join(bad))
    if vertical not in VERTICAL:
        raise ValueError(f'vertical={vertical!r}: expected one of {VERTICAL}')
    checkpoint = checkpoint or collect.latest_checkpoint(work_dir)
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {checkpoint}')
    out = out or osp.join(work_dir, REPORT_FILE)
    meta = collect.checkpoint_meta(checkpoint)
    history = collect.training_history(work_dir, meta)
    cfg = _run_config(work_dir, meta, config, cfg_options, verbose)
    ev = _evaluation(cfg, work_dir, checkpoint, eval_dir, cfg_options, echo)
    metrics = ev['metrics']
    classes = [str(c) for c in metrics['classes']]
    cm = np.asarray(metrics['confusion_matrix'], dtype=np.int64)
    pred = collect.load_predictions(ev['dump'])
    if pred['scores'].shape[1] != len(classes) or not np.array_equal(
            confusion_matrix(pred['labels'], pred['preds'], len(classes)), cm):
        raise ValueError(f"predictions dump {ev['dump']} does not give the confusion matrix of "
                         f"{osp.join(ev['dir'], 'metrics.json')}: they are not of the same evaluation")
    from posecls.apis.inference import init_recognizer
    model = init_recognizer(cfg)
    layout = _layout(model, cfg)
    wrong = _misclassified(pred, num_samples)
    samples = collect.evaluated_samples(ev['config'], [0, *wrong.tolist()], pred['names'][[0, *wrong.tolist()]])
    card = model_card(cfg, model, samples[0], checkpoint=checkpoint, meta=meta, classes=classes, layout=layout,
                      train_seconds=collect.training_wall_time(work_dir),
                      eval_info=dict(dir=ev['dir'], dump=ev['dump'], seconds=ev['seconds']))

    stats = precision_recall_f1(cm)
    ids: Dict[str, List[str]] = dict(figures=[], animations=[])
    sections = [('card', 'Model card', table(None, card))]
    curves = training_curves(history)
    if curves is None:
        sections.append(('training', 'Training curves', '<p class="note">The training history has no epoch.</p>'))
    else:
        ids['figures'].append('fig-training')
        no_val = '' if any(r.get('val') for r in history) else '<p class="note">No validation epochs.</p>'
        sections.append(('training', 'Training curves', figure(curves, 'fig-training') + no_val))
    topk = [(f'Top-{k[len("acc/top"):]} accuracy', v / 100) for k, v in (metrics.get('topk_accuracy') or {}).items()]
    overall = [('Total accuracy', metrics['total_accuracy'] / 100),
               ('Average class accuracy', metrics['mean_class_accuracy'] / 100)] + [
                   r for r in topk if r[0] != 'Top-1 accuracy']
    rows = [(n, _pct(v)) for n, v in overall]
    if metrics.get('loss') is not None:
        rows.append(('Loss (cross-entropy)', f"{metrics['loss']:.4f}"))
    per_class = [(c, int(stats['support'][i]), _pct(stats['precision'][i]), _pct(stats['recall'][i]),
                  _pct(stats['f1'][i])) for i, c in enumerate(classes)]
    sections.append(('evaluation', 'Evaluation', (
        f'<p class="note">{int(cm.sum())} test samples; {html_lib.escape(ev["dir"])}</p><div class="row">'
        + table(['metric', 'value (%)'], rows, numeric=[1])
        + table(['class', 'samples', 'precision (%)', 'recall = class accuracy (%)', 'F1 (%)'], per_class,
                numeric=[1, 2, 3, 4]) + '</div>')))
    ids['figures'] += ['fig-confusion', 'fig-per-class']
    pairs = [(classes[i], classes[j], n, _pct(n / max(int(cm[i].sum()), 1)))
             for i, j, n in most_confused_pairs(cm, confused_pairs)]
    pairs_html = (table(['true', 'predicted as', 'samples', '% of the true class'], pairs, numeric=[2, 3]) if pairs
                  else '<p class="note">No sample is misclassified.</p>')
    sections.append(('confusion', 'Confusion matrix and most confused pairs',
                     f'<div class="row">{figure(confusion_matrix_figure(cm, classes), "fig-confusion")}'
                     f'<div><h3 style="font-size:14px">Most confused pairs</h3>{pairs_html}</div></div>'))
    sections.append(('per-class', 'Per-class precision, recall and F1',
                     figure(per_class_figure(stats, classes), 'fig-per-class')))
    cells = []
    for k, (idx, seq) in enumerate(zip(wrong.tolist(), samples[1:])):
        p, t = int(pred['preds'][idx]), int(pred['labels'][idx])
        title = animation_title(classes[t], classes[p], float(pred['scores'][idx, p]), float(pred['scores'][idx, t]),
                                f'#{idx} {pred["names"][idx]}')
        div = f'anim-{k}'
        ids['animations'].append(div)
        cells.append(figure(skeleton_animation(seq, layout, title, max_frames=max_frames, vertical=vertical), div,
                            kind='animation'))
    n_wrong = int(((pred['labels'] >= 0) & (pred['preds'] != pred['labels'])).sum())
    note = (f'<p class="note">{len(cells)} of {n_wrong} misclassified samples, most confident mistakes first, '
            f'drawn with the edges of layout {html_lib.escape(layout_label(cfg, layout))} ({layout.num_node} '
            'joints); press play.</p>')
    sections.append(('misclassified', 'Misclassified samples',
                     note + (f'<div class="grid">{"".join(cells)}</div>' if cells else '')))
    title = f'posecls report: {osp.basename(osp.normpath(work_dir))}'
    subtitle = (f'{metrics["total_accuracy"]:.2f} % top-1 on {int(cm.sum())} test samples - {checkpoint} - '
                f'{datetime.now().strftime("%Y-%m-%d %H:%M:%S")}')
    text = page(title, subtitle, sections, meta=dict(ids, accuracy=metrics['total_accuracy']))
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    with atomic_open(out, 'w') as f:
        f.write(text)
    return dict(path=out, evaluation=ev['dir'], evaluated=ev['seconds'] is not None, misclassified=len(cells),
                accuracy=metrics['total_accuracy'], bytes=len(text.encode()))


__all__ = ['build_report', 'REPORT_FILE', 'REPORT_DIR']
