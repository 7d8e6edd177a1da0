"""``run_pipeline``: DeepStream JSON recordings + a labels file -> a trained, evaluated, exported, served model.

Stages, each through the one function that does it elsewhere (nothing here re-implements a loop):

=========  ==============================================================  ==========================
stage      what runs                                                       outputs (under results_dir)
=========  ==============================================================  ==========================
convert    :func:`posecls.datasets.deepstream.convert` (labelled, split)   ``dataset/``
train      ``PoseRunner.train`` on ``config.py`` (auto-resume)             ``train/``, ``config.py``
evaluate   :func:`posecls.apis.test.test_model` (+ predictions dump)       ``evaluate/``
export     :func:`posecls.deploy.export_onnx.export_checkpoint`,           ``export/model.onnx``,
           :func:`posecls.deploy.export_openvino.export_openvino`          ``export/model.xml`` + .bin
triton     :func:`posecls.deploy.triton.triton_repo.write_triton_repository`  ``triton/<model_name>/``
report     :func:`posecls.report.build_report`                             ``report.html``
=========  ==============================================================  ==========================

Resumable: after a stage's outputs are verified, ``stages/<stage>.json`` (its settings, outputs, times) is
written atomically; a rerun skips the stages with a marker and continues with the first one without (an
interrupted training resumes from its newest checkpoint). A stage whose settings changed since its marker
was written is refused with the changed settings listed; ``from_stage`` redoes a stage and every stage after
it (a redone training starts afresh: PoseRunner moves the old checkpoints aside). One pipeline at a time may
use a results folder (``.pipeline.lock``).

The config is ``config`` (a shipped name or a path) with the dataset's paths, classes, joints and channels
filled in, then ``epochs`` / ``batch_size``, then ``cfg_options``; it is written to ``config.py`` and every
later stage reads that file.
"""
import copy
import fcntl
import hashlib
import json
import os
import os.path as osp
import time
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from posecls.utils.atomic_io import atomic_write_bytes

STAGES = ('convert', 'train', 'evaluate', 'export', 'triton', 'report')
#: the base config when none is given: the narrow NVIDIA-layout ST-GCN of the sample job
DEFAULT_CONFIG = 'configs/stgcn_nvidia_sample.py'
#: folder of the per-stage completion markers
STATE_DIR = 'stages'
LOCK_FILE = '.pipeline.lock'
SUMMARY_FILE = 'pipeline.json'
OPENVINO_MODES = ('auto', 'on', 'off')
#: dataset_convert keys the pipeline passes on (TAO's keys and posecls's split/label options)
CONVERT_KEYS = ('pose_type', 'num_joints', 'input_width', 'input_height', 'focal_length', 'sequence_length_max',
                'sequence_length_min', 'sequence_length', 'sequence_overlap', 'split_gap', 'label_map', 'val_ratio',
                'val_files', 'seed')


def _now() -> str:
    return datetime.now().strftime('%Y-%m-%d %H:%M:%S')


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            h.update(block)
    return h.hexdigest()


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _flatten(obj: Any, prefix: str = '') -> Dict[str, str]:
    """``{dotted.key: json text}`` of a nested dict (lists, scalars and empty dicts are leaves)."""
    if isinstance(obj, dict) and obj:
        out: Dict[str, str] = {}
        for k, v in obj.items():
            out.update(_flatten(v, f'{prefix}{k}.'))
        return out
    return {prefix[:-1]: json.dumps(obj, sort_keys=True, default=str)}


def _changes(old: Dict[str, Any], new: Dict[str, Any], limit: int = 6) -> List[str]:
    keys = sorted(set(old) | set(new))
    diff = [f'{k}: {old.get(k, "(unset)")} -> {new.get(k, "(unset)")}' for k in keys if old.get(k) != new.get(k)]
    return diff[:limit] + ([f'... {len(diff) - limit} more'] if len(diff) > limit else [])


def _dataset(cfg: Any) -> Any:
    """The innermost dataset dict of a dataloader config (through wrappers such as RepeatDataset)."""
    ds = cfg['dataset']
    while ds.get('type') not in (None, 'PoseDataset') and isinstance(ds.get('dataset'), dict):
        ds = ds['dataset']
    return ds


class PipelineError(ValueError):
    """The results folder does not fit the request (settings changed, a stage's outputs missing)."""


class Pipeline:
    """The stages of one results folder (see the module docstring); :meth:`run` runs them.

    Args:
        data: DeepStream JSON recordings: files, folders of ``*.json`` or glob patterns.
        labels: The labels CSV (``file,object_id,start_frame,end_frame,label``; docs/dataset_convert.md).
        results_dir: Folder of every stage's outputs (created).
        config: Base config, a shipped name (``configs/stgcn_nvidia_sample.py``) or a path.
        cfg_options: Overrides applied last (``--cfg-options``).
        epochs: ``train_cfg.max_epochs`` (validation and checkpoints at least at the last epoch).
        batch_size: ``train_dataloader.batch_size``.
        convert_options: :data:`CONVERT_KEYS` for :func:`posecls.datasets.deepstream.convert` (``val_ratio``
            defaults to 0.2 unless ``val_files`` is given: the evaluation needs a val split).
        opset: ONNX opset of the export.
        openvino: ``auto`` (an IR when openvino is importable), ``on`` (required) or ``off``.
        triton_model_name: Model name in the Triton repository.
        max_batch_size: Triton ``max_batch_size``.
        report_samples: Misclassified samples animated in the report.
        verbose: mmengine's full console log.
        echo: Where the progress lines go.
    """

    def __init__(self, data: Sequence[str], labels: str, results_dir: str, *, config: str = DEFAULT_CONFIG,
                 cfg_options: Optional[dict] = None, epochs: Optional[int] = None, batch_size: Optional[int] = None,
                 convert_options: Optional[Dict[str, Any]] = None, opset: int = 12, openvino: str = 'auto',
                 triton_model_name: Optional[str] = None, max_batch_size: int = 16, report_samples: int = 8,
                 verbose: bool = False, echo: Callable[[str], None] = print) -> None:
        from posecls.datasets.deepstream import TAO_DEFAULTS
        if not labels:
            raise ValueError('pipeline: labels is required: the labels CSV that names the action of each recording '
                             '(file,object_id,start_frame,end_frame,label; docs/dataset_convert.md)')
        if not results_dir:
            raise ValueError('pipeline: results_dir is required')
        for name, v in (('epochs', epochs), ('batch_size', batch_size)):
            if v is not None and (not isinstance(v, int) or v < 1):
                raise ValueError(f'pipeline: {name}={v!r}: expected a positive integer')
        if openvino not in OPENVINO_MODES:
            raise ValueError(f'pipeline: openvino={openvino!r}: expected one of {OPENVINO_MODES}')
        unknown = sorted(set(convert_options or {}) - set(CONVERT_KEYS))
        if unknown:
            raise ValueError(f'pipeline: unknown dataset_convert option(s) {unknown}; expected some of {CONVERT_KEYS}')
        conv = {k: v for k, v in dict(TAO_DEFAULTS).items() if k in CONVERT_KEYS}
        conv.update({k: v for k, v in (convert_options or {}).items() if v is not None})
        if conv.get('val_files') is None and conv.get('val_ratio') is None:
            conv['val_ratio'] = 0.2
        conv.setdefault('seed', 0)
        self.data = [data] if isinstance(data, str) else list(data)
        self.labels = labels
        self.root = osp.abspath(results_dir)
        self.config = config
        self.cfg_options = dict(cfg_options or {})
        self.epochs, self.batch_size = epochs, batch_size
        self.convert_options = conv
        self.opset = opset
        self.openvino = openvino
        from posecls.deploy.triton.triton_repo import DEFAULT_MODEL_NAME
        self.triton_model_name = triton_model_name or DEFAULT_MODEL_NAME
        self.max_batch_size = max_batch_size
        self.report_samples = report_samples
        self.verbose = verbose
        self.echo = echo
        self._cfg = None  # the built config (after convert)

    # ------------------------------------------------------------------ paths
    def path(self, *parts: str) -> str:
        """A path under the results folder."""
        return osp.join(self.root, *parts)

    @property
    def config_file(self) -> str:
        """``<results_dir>/config.py``: the config every stage after convert uses."""
        return self.path('config.py')

    def marker(self, stage: str) -> str:
        """``<results_dir>/stages/<stage>.json``."""
        return self.path(STATE_DIR, f'{stage}.json')

    def read_marker(self, stage: str) -> Optional[Dict[str, Any]]:
        """The stage's completion marker, or None."""
        try:
            with open(self.marker(stage)) as f:
                return json.load(f)
        except FileNotFoundError:
            return None
        except ValueError as e:  # written atomically, so only a hand-edited file is unreadable
            raise PipelineError(f'{self.marker(stage)}: not a pipeline marker ({e}); delete it to redo '
                                f'stage {stage}') from None

    # ------------------------------------------------------------------ settings of each stage
    def _convert_settings(self) -> Dict[str, Any]:
        from posecls.datasets.deepstream import resolve_inputs
        files = resolve_inputs(self.data)
        if not osp.isfile(self.labels):
            raise FileNotFoundError(f'pipeline: labels file not found: {self.labels}')
        conv = dict(self.convert_options)
        lm = conv.get('label_map')
        if isinstance(lm, str):
            if not osp.isfile(lm):
                raise FileNotFoundError(f'pipeline: label_map file not found: {lm}')
            conv['label_map'] = dict(path=osp.abspath(lm), sha256=_sha256(lm))
        st = [os.stat(f) for f in files]
        return dict(inputs=[dict(path=osp.abspath(f), bytes=s.st_size, mtime_ns=s.st_mtime_ns)
                            for f, s in zip(files, st)],
                    labels=dict(path=osp.abspath(self.labels), sha256=_sha256(self.labels)), options=conv)

    def _openvino_on(self) -> bool:
        if self.openvino == 'off':
            return False
        import importlib.util
        found = importlib.util.find_spec('openvino') is not None
        if self.openvino == 'on' and not found:
            raise RuntimeError('pipeline: openvino=on but the openvino package is not installed: pip install '
                               '"posecls[openvino]" (or openvino=auto)')
        return found

    def settings(self, stage: str) -> Dict[str, Any]:
        """What a stage's outputs depend on (compared with its marker on a rerun), as JSON would hold it."""
        return json.loads(json.dumps(self._settings(stage), sort_keys=True, default=str))

    def _settings(self, stage: str) -> Dict[str, Any]:
        if stage == 'convert':
            return self._convert_settings()
        if stage == 'train':
            return _flatten(self.build_config().to_dict())
        if stage == 'export':
            return dict(opset=self.opset, openvino=self._openvino_on())
        if stage == 'triton':
            return dict(model_name=self.triton_model_name, max_batch_size=self.max_batch_size)
        if stage == 'report':
            return dict(num_samples=self.report_samples)
        return {}

    # ------------------------------------------------------------------ the config
    def build_config(self) -> Any:
        """The training config: the base config with the dataset filled in, ``epochs`` / ``batch_size``, then
        ``cfg_options`` (needs the convert stage's outputs).

        Raises:
            FileNotFoundError: the dataset or the config is missing.
            ValueError: a layout whose joint count is not the data's, or fewer training windows than a batch
                with ``drop_last``.
        """
        if self._cfg is not None:
            return self._cfg
        from posecls.graphs import get_layout
        from posecls.tools.common import load_config
        from posecls.utils.config import merge_cfg_options

        ds_dir = self.path('dataset')
        map_file = osp.join(ds_dir, 'label_map.json')
        if not osp.isfile(map_file):
            raise FileNotFoundError(f'{map_file} is missing: the convert stage has not completed')
        with open(map_file) as f:
            classes = json.load(f)
        shapes = {s: np.load(osp.join(ds_dir, f'{s}_data.npy'), mmap_mode='r').shape for s in ('train', 'val')}
        _, C, _, V, _ = shapes['train']
        cfg = load_config(self.config, None, work_dir=self.path('train'))
        cfg.pop('launcher', None)
        layout_cfg = cfg.model.backbone.get('graph_cfg', {}).get('layout')
        layout = get_layout(layout_cfg)
        if layout.num_node != V:
            raise ValueError(f'config {self.config}: model.backbone.graph_cfg.layout {layout.name!r} has '
                             f'{layout.num_node} joints but the DeepStream data has {V} (num_joints); use a config '
                             f'with the nvidia layout (e.g. {DEFAULT_CONFIG})')
        for split, name in (('train', 'train'), ('val', 'val'), ('test', 'val')):
            loader = cfg.get(f'{split}_dataloader')
            if not loader:
                raise ValueError(f'config {self.config} has no {split}_dataloader')
            ds = _dataset(loader)
            values = dict(data_path=osp.join(ds_dir, f'{name}_data.npy'),
                          label_path=osp.join(ds_dir, f'{name}_label.pkl'), label_map=dict(classes),
                          num_classes=len(classes), num_joints=V)
            for k, v in values.items():  # assigned, not merged: the base config's label_map must go
                ds[k] = v
        for k, v in (('data_root', ds_dir), ('label_map', dict(classes))):  # the base config's own variables
            if k in cfg:
                cfg[k] = v
        cfg.model.cls_head.num_classes = len(classes)
        cfg.model.backbone.in_channels = C
        if self.epochs is not None:
            cfg.train_cfg.max_epochs = self.epochs
            cfg.train_cfg.val_interval = min(cfg.train_cfg.get('val_interval', 1), self.epochs)
        if self.batch_size is not None:
            cfg.train_dataloader.batch_size = self.batch_size
        merge_cfg_options(cfg, self.cfg_options)
        cfg.work_dir = self.path('train')
        bs, windows = cfg.train_dataloader.get('batch_size', 1), shapes['train'][0]
        if cfg.train_dataloader.get('drop_last') and windows < bs:
            raise ValueError(f'{ds_dir}/train_data.npy holds {windows} training windows, fewer than '
                             f'train_dataloader.batch_size={bs} (drop_last: no training step at all); pass a smaller '
                             '--batch-size or label more data')
        self._cfg = cfg
        return cfg

    def _load_config(self, work_dir: str) -> Any:
        from posecls.tools.common import load_config
        return load_config(self.config_file, None, work_dir=work_dir, verbose=self.verbose)

    def _checkpoint(self) -> str:
        marker = self.read_marker('train')
        if marker is None:
            raise PipelineError('the train stage has not completed')
        ckpt = marker['outputs']['checkpoint']
        if not osp.isfile(ckpt):
            raise PipelineError(f'{ckpt} (the trained checkpoint in {self.marker("train")}) is missing; rerun with '
                                '--from train')
        return ckpt

    # ------------------------------------------------------------------ stages
    def stage_convert(self) -> Dict[str, Any]:
        """Labelled ``dataset_convert`` with a val split into ``dataset/``."""
        from posecls.datasets.deepstream import convert, format_summary
        out = self.path('dataset')
        opts = dict(self.convert_options)
        summary = convert(self.data, out, labels=self.labels, progress='auto', **opts)
        self.echo(format_summary(summary))
        atomic_write_bytes(osp.join(out, 'summary.json'), (json.dumps(summary, indent=1, default=str) + '\n').encode())
        for name in ('train', 'val'):
            shape = tuple(np.load(osp.join(out, f'{name}_data.npy'), mmap_mode='r').shape)
            if list(shape) != summary['arrays'][osp.join(out, f'{name}_data.npy')]:
                raise PipelineError(f'{out}/{name}_data.npy has shape {shape}, not the converter\'s')
        empty = [c for c, n in summary['splits']['train']['per_class'].items() if n == 0]
        if empty:
            self.echo(f'  warning: no training window of class(es) {empty}')
        self._cfg = None
        return dict(outputs=dict(dataset=out, label_map=osp.join(out, 'label_map.json')),
                    info=dict(classes=summary['label_map'], splits=summary['splits'],
                              windows_unlabelled=summary['windows_unlabelled'], warnings=summary['warnings']))

    def stage_train(self, fresh: bool) -> Dict[str, Any]:
        """Train ``config.py`` in ``train/`` (auto-resume unless ``fresh``)."""
        from posecls.tools.common import build_runner, set_verbosity
        from posecls.utils.atomic_io import atomic_open
        from posecls.utils.checkpoint import load_checkpoint_file
        cfg = self.build_config()
        with atomic_open(self.config_file, 'w') as f:
            f.write(cfg.pretty_text)
        run_cfg = copy.deepcopy(cfg)
        set_verbosity(run_cfg, self.verbose)
        run_cfg.resume = not fresh
        run_cfg.load_from = None
        latest = self.path('train', 'pc_model_latest.pth')
        started = self.path(STATE_DIR, 'train.started.json')
        settings = self.settings('train')
        if not fresh and osp.exists(latest):
            if osp.isfile(started):
                with open(started) as f:
                    before = json.load(f)
                if before != settings:
                    raise PipelineError(f'{self.root}: the interrupted training in {self.path("train")} ran with other '
                                        f'settings: {"; ".join(_changes(before, settings))}. Rerun with --from train '
                                        'to train afresh, or with the settings it started with to resume it')
            self.echo(f'  resuming from the newest checkpoint in {self.path("train")} '
                      f'({osp.basename(osp.realpath(latest))})')
        atomic_write_bytes(started, (json.dumps(settings, indent=1) + '\n').encode())
        build_runner(run_cfg).train()
        if not osp.isfile(latest):
            raise PipelineError(f'training ended without {latest}')
        ckpt = osp.realpath(latest)
        meta = load_checkpoint_file(ckpt).get('meta') or {}
        epochs = cfg.train_cfg.max_epochs
        if meta.get('epoch') != epochs:
            raise PipelineError(f'{ckpt} is the checkpoint of epoch {meta.get("epoch")}, not of the last epoch '
                                f'{epochs}')
        return dict(outputs=dict(checkpoint=ckpt, config=self.config_file, work_dir=self.path('train')),
                    info=dict(epochs=epochs))

    def stage_evaluate(self) -> Dict[str, Any]:
        """Evaluate the trained checkpoint on the val split into ``evaluate/`` (with a predictions dump)."""
        from posecls.apis.test import test_model
        out = self.path('evaluate')
        dump = osp.join(out, 'predictions.npz')
        metrics = test_model(self._load_config(out), self._checkpoint(), dump=dump)
        paths = metrics.get('report') or {}
        for p in [dump, *paths.values()]:
            if isinstance(p, str) and not osp.isfile(p):
                raise PipelineError(f'the evaluation wrote no {p}')
        return dict(outputs=dict(dir=out, predictions=dump, **{k: v for k, v in paths.items() if isinstance(v, str)}),
                    info={k: float(v) for k, v in metrics.items() if k.startswith('acc/')})

    def stage_export(self) -> Dict[str, Any]:
        """ONNX (parity-checked against PyTorch) and, when available, an OpenVINO IR (checked against ONNX)."""
        from posecls.deploy.export_onnx import export_checkpoint, format_export_summary
        out = self.path('export')
        onnx_file = osp.join(out, 'model.onnx')
        # the matmul form: no Einsum node, 1.5x (ONNX Runtime) to 2.5-2.8x (OpenVINO bf16) faster on CPUs
        rep = export_checkpoint(self.config_file, self._checkpoint(), onnx_file, force=True, opset=self.opset,
                                use_einsum=False)
        self.echo(format_export_summary(rep))
        outputs = dict(onnx=onnx_file)
        info: Dict[str, Any] = dict(onnx_max_abs_diff=rep['max_abs_diff'], input_shape=rep['input_shape'])
        if self._openvino_on():
            from posecls.deploy.export_openvino import export_openvino
            val = np.load(self.path('dataset', 'val_data.npy'), mmap_mode='r')
            ov = export_openvino(onnx_file, osp.join(out, 'model.xml'), verify_data=np.asarray(val[:8]), force=True)
            self.echo(f'OpenVINO IR written: {ov["path"]} (max abs logit difference to ONNX Runtime '
                      f'{max(ov["max_abs_diff"].values()):.2e})')
            outputs.update(openvino=ov['path'], openvino_bin=ov['bin'])
            info['openvino_max_abs_diff'] = ov['max_abs_diff']
        else:
            self.echo('OpenVINO IR: skipped (openvino is not installed or openvino=off)')
        atomic_write_bytes(osp.join(out, 'export_report.json'),
                           (json.dumps(dict(onnx=rep, **info), indent=1, default=str) + '\n').encode())
        return dict(outputs=outputs, info=info)

    def stage_triton(self) -> Dict[str, Any]:
        """A Triton model repository (TAO's layout, onnxruntime_onnx) in ``triton/``."""
        from posecls.deploy.triton.triton_repo import write_triton_repository
        onnx_file = self.read_marker('export')['outputs']['onnx']
        res = write_triton_repository(onnx_file, self.path('triton'), model_name=self.triton_model_name,
                                      max_batch_size=self.max_batch_size, force=True)
        missing = [p for p in res['files'] if not osp.isfile(p)]
        if missing:
            raise PipelineError(f'the Triton repository lacks {missing}')
        self.echo(f'Triton model repository: {res["model_dir"]} ({res["platform"]}, classes {res["classes"]})')
        return dict(outputs=dict(repository=self.path('triton'), model_dir=res['model_dir']),
                    info=dict(platform=res['platform']))

    def stage_report(self) -> Dict[str, Any]:
        """The HTML report of the run (:func:`posecls.report.build_report`)."""
        from posecls.report import build_report
        out = self.path('report.html')
        res = build_report(self.path('train'), out, checkpoint=self._checkpoint(), config=self.config_file,
                           eval_dir=self.path('evaluate'), num_samples=self.report_samples, verbose=self.verbose,
                           echo=self.echo)
        if not osp.isfile(out) or osp.getsize(out) == 0:
            raise PipelineError(f'the report wrote no {out}')
        return dict(outputs=dict(report=out), info=dict(accuracy=res.get('accuracy')))

    # ------------------------------------------------------------------ driver
    @contextmanager
    def _lock(self) -> Iterator[None]:
        os.makedirs(self.root, exist_ok=True)
        fd = os.open(self.path(LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise PipelineError(f'another posecls pipeline is running in {self.root} '
                                    f'({self.path(LOCK_FILE)} is locked)') from None
            yield
        finally:
            os.close(fd)

    def _check_done(self, stage: str, marker: Dict[str, Any], after: str) -> Tuple[Dict[str, Any], str]:
        now = self.settings(stage)
        if marker.get('settings') != now or marker.get('after') != after:
            changed = _changes(marker.get('settings') or {}, now) if marker.get('settings') != now else [
                'an earlier stage was redone']
            raise PipelineError(f'{self.root}: stage {stage} was done ({marker.get("finished")}) with other '
                                f'settings: {"; ".join(changed)}. Rerun with --from {stage} to redo it and the '
                                'stages after it, or use another --results-dir')
        missing = [p for p in marker.get('outputs', {}).values() if isinstance(p, str) and not osp.exists(p)]
        if missing:
            raise PipelineError(f'{self.root}: stage {stage} is marked done but {missing[0]} is missing; rerun with '
                                f'--from {stage}')
        return now, _digest([after, now])

    def run(self, from_stage: Optional[str] = None, until: Optional[str] = None) -> Dict[str, Any]:
        """Run the stages that are not done yet (or ``from_stage`` and every one after it), up to ``until``.

        Returns:
            dict: ``results_dir``, ``stages`` ({stage: marker}), ``ran`` (stages run now), ``seconds``,
            ``report`` (path or None).

        Raises:
            PipelineError: settings changed since a stage was done, a done stage's outputs are missing, or
                another pipeline holds the folder; the errors of the stages themselves (bad labels: the file
                and line) propagate unchanged, with no marker written for the failed stage.
        """
        for name, v in (('from_stage', from_stage), ('until', until)):
            if v is not None and v not in STAGES:
                raise ValueError(f'pipeline: {name}={v!r}: expected one of {STAGES}')
        if from_stage and until and STAGES.index(until) < STAGES.index(from_stage):
            raise ValueError(f'pipeline: until={until!r} comes before from_stage={from_stage!r}')
        last = STAGES.index(until) + 1 if until else len(STAGES)
        t_all = time.perf_counter()
        with self._lock():
            first = STAGES.index(from_stage) if from_stage else len(STAGES)
            for stage in STAGES[first:]:
                if osp.exists(self.marker(stage)):
                    os.unlink(self.marker(stage))
            markers: Dict[str, Dict[str, Any]] = {}
            ran: List[str] = []
            after = ''
            redone = False
            n = len(STAGES)
            for i, stage in enumerate(STAGES[:last], 1):
                tag = f'[{i}/{n}] {stage}'
                marker = None if redone else self.read_marker(stage)
                if marker is not None:
                    _, after = self._check_done(stage, marker, after)
                    markers[stage] = marker
                    self.echo(f'{tag}: done earlier ({marker.get("finished")}), skipped')
                    continue
                if not redone:  # this and every later stage run now: their old markers no longer hold
                    for later in STAGES[i:]:
                        if osp.exists(self.marker(later)):
                            os.unlink(self.marker(later))
                redone = True
                started = _now()
                self.echo(f'{tag}: started {started}')
                t0 = time.perf_counter()
                try:
                    if stage == 'train':
                        fresh = bool(ran) or (from_stage is not None and STAGES.index(from_stage) <= 1)
                        result = self.stage_train(fresh)
                    else:
                        result = getattr(self, f'stage_{stage}')()
                    settings = self.settings(stage)
                except BaseException:
                    self.echo(f'{tag}: FAILED after {time.perf_counter() - t0:.1f} s; the stages before it are kept '
                              '(rerun the same command to continue from here)')
                    raise
                seconds = time.perf_counter() - t0
                marker = dict(stage=stage, settings=settings, after=after, started=started, finished=_now(),
                              seconds=round(seconds, 3), **result)
                atomic_write_bytes(self.marker(stage), (json.dumps(marker, indent=1, default=str) + '\n').encode())
                after = _digest([after, settings])
                markers[stage] = marker
                ran.append(stage)
                main = next(iter(result['outputs'].values()))
                self.echo(f'{tag}: done in {seconds:.1f} s -> {main}')
            seconds = time.perf_counter() - t_all
            summary = dict(results_dir=self.root, finished=_now(), ran=ran, seconds=round(seconds, 3),
                           report=markers['report']['outputs']['report'] if 'report' in markers else None,
                           stages={s: dict(outputs=m['outputs'], info=m.get('info'), finished=m.get('finished'),
                                           seconds=m.get('seconds')) for s, m in markers.items()})
            atomic_write_bytes(self.path(SUMMARY_FILE), (json.dumps(summary, indent=1, default=str) + '\n').encode())
        self.echo(f'pipeline done in {seconds:.1f} s ({len(ran)} stage(s) run, {len(markers) - len(ran)} done '
                  f'earlier' + (f', stopped after {until}' if last < n else '') + f'): {self.root}')
        if summary['report']:
            self.echo(f'Report: {summary["report"]}')
        return dict(summary, stages=markers)


def run_pipeline(data: Sequence[str], labels: str, results_dir: str, *, from_stage: Optional[str] = None,
                 until: Optional[str] = None, **kwargs: Any) -> Dict[str, Any]:
    """``Pipeline(data, labels, results_dir, **kwargs).run(from_stage, until)`` (see :class:`Pipeline`)."""
    return Pipeline(data, labels, results_dir, **kwargs).run(from_stage, until)


__all__ = ['Pipeline', 'PipelineError', 'run_pipeline', 'STAGES', 'DEFAULT_CONFIG', 'CONVERT_KEYS']
