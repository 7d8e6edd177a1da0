"""What a report reads from a work dir: the checkpoint, its config, the run's own scalars and an evaluation.

* checkpoint: ``pc_model_latest.pth`` (else the newest ``model_epoch_*.pth``), or the one given;
* config: the one stored in the checkpoint (``meta.cfg``, what the run trained with), else the newest
  ``<work_dir>/<timestamp>/vis_data/config.py``, or the one given;
* scalars: ``<work_dir>/training_history.json`` (:class:`posecls.engine.hooks.TrainingHistoryHook`), else the
  copy in the checkpoint's ``meta``;
* evaluation: a folder with ``metrics.json`` written by :func:`posecls.apis.test.test_model` next to the
  ``vis_data/config.py`` of that run, which names the evaluated checkpoint (``load_from``) and the predictions dump
  (``DumpPredictions.out_file``). The newest one under the work dir that evaluated *this* checkpoint (same file,
  written after it) with a ``.npz`` / ``.json`` dump is used; without one the report runs ``test_model`` itself.
"""
import glob
import json
import os
import os.path as osp
import re
from datetime import datetime
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
from mmengine.config import Config

from posecls.engine.hooks.training_history_hook import HISTORY_FILE

LATEST_NAME = 'pc_model_latest.pth'
NUMBERED = re.compile(r'^model_epoch_(\d+)\.pth$')
#: dump formats the report reads (``.pkl`` is never unpickled)
DUMP_SUFFIXES = ('.npz', '.json')
_LOG_TIME = re.compile(r'^(\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}) ')


def latest_checkpoint(work_dir: str) -> str:
    """``<work_dir>/pc_model_latest.pth``, else the ``model_epoch_*.pth`` of the highest epoch.

    Raises:
        FileNotFoundError: ``work_dir`` is not a folder or holds no checkpoint.
    """
    if not osp.isdir(work_dir):
        raise FileNotFoundError(f'work dir not found: {work_dir}')
    latest = osp.join(work_dir, LATEST_NAME)
    if osp.isfile(latest):
        return latest
    numbered = sorted((int(m.group(1)), n) for n in os.listdir(work_dir) if (m := NUMBERED.match(n)))
    if not numbered:
        raise FileNotFoundError(f'{work_dir}: no checkpoint ({LATEST_NAME} or model_epoch_*.pth); train first, or '
                                'pass --checkpoint')
    return osp.join(work_dir, numbered[-1][1])


def checkpoint_meta(checkpoint: str) -> Dict[str, Any]:
    """The checkpoint's ``meta`` (content hash verified, decrypted with ``$POSECLS_ENCRYPTION_KEY`` when needed)."""
    from posecls.utils.checkpoint import load_checkpoint_file
    ckpt = load_checkpoint_file(checkpoint)
    meta = dict(ckpt.get('meta') or {}) if isinstance(ckpt, dict) else {}
    meta['content_sha256'] = ckpt.get('posecls_content_sha256') if isinstance(ckpt, dict) else None
    return meta


def training_log_dirs(work_dir: str) -> List[str]:
    """The run's timestamped log folders ``<work_dir>/YYYYmmdd_HHMMSS/`` in time order."""
    return sorted(d for d in glob.glob(osp.join(work_dir, '[0-9]' * 8 + '_' + '[0-9]' * 6)) if osp.isdir(d))


def run_config_text(work_dir: str, meta: Dict[str, Any]) -> str:
    """The training config as text: the checkpoint's ``meta.cfg``, else the newest log folder's dump.

    Raises:
        FileNotFoundError: neither exists.
    """
    if isinstance(meta.get('cfg'), str) and meta['cfg'].strip():
        return meta['cfg']
    for d in reversed(training_log_dirs(work_dir)):
        path = osp.join(d, 'vis_data', 'config.py')
        if osp.isfile(path):
            with open(path) as f:
                return f.read()
    raise FileNotFoundError(f'{work_dir}: the checkpoint stores no config (meta.cfg) and no <timestamp>/vis_data/'
                            'config.py exists; pass --config')


def training_history(work_dir: str, meta: Optional[Dict[str, Any]] = None) -> List[Dict[str, Any]]:
    """The run's per-epoch scalars: ``<work_dir>/training_history.json``, else the checkpoint's copy.

    :class:`posecls.engine.hooks.TrainingHistoryHook` writes both (the file after every epoch, the list into
    every checkpoint's ``meta.training_history``): epoch records ``epoch``, ``lr``, ``train_loss`` and ``val``
    (that epoch's validation metrics). mmengine's ``vis_data/scalars.json`` is not read: its losses are
    per-iteration values smoothed over a window, not the epoch's own.

    Args:
        work_dir: The run's folder.
        meta: The checkpoint's ``meta`` (:func:`checkpoint_meta`), used when the file is absent.

    Raises:
        FileNotFoundError: neither the file nor the checkpoint's copy exists.
        ValueError: the file is not a JSON list of epoch records.
    """
    path = osp.join(work_dir, HISTORY_FILE)
    if osp.isfile(path):
        with open(path) as f:
            try:
                history = json.load(f)
            except json.JSONDecodeError as e:
                raise ValueError(f'{path}: not valid JSON ({e})') from e
        source = path
    elif isinstance((meta or {}).get('training_history'), list) and meta['training_history']:
        history, source = meta['training_history'], 'the checkpoint\'s meta.training_history'
    else:
        raise FileNotFoundError(f'{path}: not found, and the checkpoint stores no meta.training_history (the run '
                                'was not trained by posecls, whose TrainingHistoryHook writes both)')
    if not isinstance(history, list) or not all(isinstance(r, dict) and 'epoch' in r for r in history):
        raise ValueError(f'{source}: expected a list of epoch records with an "epoch" field')
    return history


def training_wall_time(work_dir: str) -> Optional[float]:
    """Seconds between the first and last line of every training log (``<timestamp>/<timestamp>.log`` with
    ``Epoch(train)`` lines), summed over the run's starts and resumes; None without such logs."""
    total, found = 0.0, False
    for d in training_log_dirs(work_dir):
        log = osp.join(d, osp.basename(d) + '.log')
        if not osp.isfile(log):
            continue
        first = last = None
        trained = False
        with open(log, errors='replace') as f:
            for line in f:
                m = _LOG_TIME.match(line)
                if m:
                    first = first or m.group(1)
                    last = m.group(1)
                trained = trained or 'Epoch(train)' in line
        if trained and first and last:
            fmt = '%Y/%m/%d %H:%M:%S'
            total += (datetime.strptime(last, fmt) - datetime.strptime(first, fmt)).total_seconds()
            found = True
    return total if found else None


def _same_file(a: Optional[str], b: str) -> bool:
    if not a:
        return False
    return osp.exists(a) and osp.realpath(a) == osp.realpath(b)


def _dump_of(cfg: Config) -> Optional[str]:
    evaluators = cfg.get('test_evaluator') or []
    for ev in evaluators if isinstance(evaluators, (list, tuple)) else [evaluators]:
        if ev.get('type') == 'DumpPredictions' and osp.splitext(ev.get('out_file', ''))[1] in DUMP_SUFFIXES:
            return ev['out_file']
    return None


def find_evaluation(roots: Sequence[str], checkpoint: str) -> Optional[Dict[str, Any]]:
    """The newest evaluation of ``checkpoint`` under ``roots`` that has a readable predictions dump.

    Returns:
        None, or dict(dir, metrics (metrics.json), config (the evaluation's Config), dump (path)).
    """
    found = []
    for root in roots:
        for metrics_file in glob.glob(osp.join(root, '**', 'metrics.json'), recursive=True):
            d = osp.dirname(metrics_file)
            cfg_file = osp.join(d, 'vis_data', 'config.py')
            if osp.isfile(cfg_file) and osp.getmtime(metrics_file) >= osp.getmtime(osp.realpath(checkpoint)):
                found.append((osp.getmtime(metrics_file), d, cfg_file))
    for _, d, cfg_file in sorted(found, reverse=True):
        try:
            cfg = Config.fromfile(cfg_file)
        except Exception:  # noqa: BLE001 - a config that no longer loads is not this run's evaluation
            continue
        dump = _dump_of(cfg)
        if _same_file(cfg.get('load_from'), checkpoint) and dump and osp.isfile(dump):
            with open(osp.join(d, 'metrics.json')) as f:
                metrics = json.load(f)
            return dict(dir=d, metrics=metrics, config=cfg, dump=dump)
    return None


def load_predictions(dump: str) -> Dict[str, np.ndarray]:
    """A ``DumpPredictions`` file (``.npz`` or ``.json``) as arrays ``labels``, ``preds``, ``scores``, ``names``.

    Raises:
        ValueError: another suffix, or a file without the expected fields.
    """
    suffix = osp.splitext(dump)[1]
    if suffix == '.npz':
        with np.load(dump, allow_pickle=False) as z:
            missing = {'scores', 'labels', 'names'} - set(z.files)
            if missing:
                raise ValueError(f'{dump}: not a DumpPredictions file (missing {sorted(missing)})')
            scores, labels, names = z['scores'], z['labels'], z['names']
    elif suffix == '.json':
        with open(dump) as f:
            rows = json.load(f)
        try:
            scores = np.array([r['pred_score'] for r in rows], dtype=np.float64)
            labels = np.array([r['gt_label'] for r in rows], dtype=np.int64)
            names = np.array([r['sample_name'] for r in rows])
        except (KeyError, TypeError) as e:
            raise ValueError(f'{dump}: not a DumpPredictions file (rows need pred_score, gt_label, sample_name)') from e
    else:
        raise ValueError(f'{dump}: predictions dumps are read from {DUMP_SUFFIXES}, not {suffix!r}')
    scores = np.asarray(scores, dtype=np.float64).reshape(len(labels), -1)
    return dict(labels=np.asarray(labels, dtype=np.int64), preds=scores.argmax(axis=1), scores=scores,
                names=np.asarray(names).astype(str))


def evaluated_samples(cfg: Config, indices: Sequence[int], names: Optional[Sequence[str]] = None) -> List[np.ndarray]:
    """Samples ``indices`` of the config's test set after its test pipeline, as (C, T, V, M) arrays (first clip).

    Args:
        cfg: The evaluation's config (its ``test_dataloader.dataset``).
        indices: Dataset indices (= rows of the predictions dump).
        names: The dump's sample names of those rows, checked against the dataset's.

    Raises:
        ValueError: a name differs (the dump is not of this test set).
    """
    import copy

    from posecls.registry import DATASETS
    from posecls.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    dataset = DATASETS.build(copy.deepcopy(cfg.test_dataloader.dataset))
    out = []
    for k, idx in enumerate(indices):
        item = dataset[int(idx)]
        sample = item['data_samples']
        if names is not None and sample.get('sample_name') is not None and str(sample.sample_name) != str(names[k]):
            raise ValueError(f'predictions dump row {idx} is {names[k]!r} but test sample {idx} is '
                             f'{sample.sample_name!r}: the dump is not of this test set')
        x = item['inputs'].numpy()
        out.append(x[0] if x.ndim == 5 else x)
    return out


__all__ = ['latest_checkpoint', 'checkpoint_meta', 'run_config_text', 'training_history', 'training_wall_time',
           'training_log_dirs', 'find_evaluation', 'load_predictions', 'evaluated_samples']
