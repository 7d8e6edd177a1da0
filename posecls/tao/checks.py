"""Task-level checks of a validated spec: required keys, files, consistency between keys.

``check_task(spec, task)`` runs before any work. It raises
:class:`~posecls.tao.errors.SpecError` (naming the keys, values and what is
allowed) or returns notes to print (e.g. how disagreeing GPU settings were resolved).
It also normalises the device keys in place with TAO's rule.
"""
import glob
import os.path as osp
from typing import Any, Dict, List, Optional

from posecls.tao.errors import SpecError
from posecls.tao.spec import resolve_gpus, task_results_dir

RESUME_SUFFIXES = ('.pth', '.tlt')
BACKEND_SUFFIXES = ('.onnx', '.xml', '.engine', '.plan', '.trt')  # posecls.deploy.backends.MODEL_SUFFIXES


def _existing_file(spec: Dict[str, Any], key: str, what: str, required: bool = True) -> Optional[str]:
    node: Any = spec
    for part in key.split('.'):
        node = node[part]
    if node is None:
        if required:
            raise SpecError(f'{key} is required for this task: {what}')
        return None
    if not osp.isfile(node):
        raise SpecError(f'{key}: file not found: {node}')
    return node


def _frames_of(path: str) -> Optional[int]:
    """T of an (N, C, T, V, M) .npy (read from its header; None when it is not such an array)."""
    import numpy as np
    try:
        arr = np.load(path, mmap_mode='r', allow_pickle=False)
    except (ValueError, OSError, EOFError):
        return None
    return int(arr.shape[2]) if arr.ndim == 5 else None


def check_model(spec: Dict[str, Any]) -> None:
    """The backbone ``model.model_type`` names can be built with the spec's options (before any work).

    Raises:
        SpecError: an ST-GCN-only key set for another backbone, an option the backbone does not have
            (the allowed ones with their defaults are listed), or a value the backbone refuses.
    """
    import inspect

    from posecls.tao.schema import SPEC, backbone_class
    m = spec['model']
    cls = backbone_class(m['model_type'])
    if m['model_type'] != 'ST-GCN' and cls.__name__ != 'STGCN':
        for key in ('dropout', 'edge_importance_weighting'):
            if m[key] != SPEC.fields['model'].fields[key].default:
                raise SpecError(f'model.{key}={m[key]!r} is an ST-GCN option; model.model_type={m["model_type"]} '
                                f'takes its own options in model.backbone_options (see docs/tao_cli.md)')
    params = {k: p.default for k, p in inspect.signature(cls.__init__).parameters.items()
              if k not in ('self', 'init_cfg') and p.kind is p.POSITIONAL_OR_KEYWORD}
    fixed = ('in_channels', 'graph_cfg', 'base_channels')
    unknown = [k for k in m['backbone_options'] if k not in params or k in fixed]
    if unknown:
        allowed = ', '.join(f'{k}={v!r}' for k, v in params.items() if k not in fixed)
        raise SpecError(f'model.backbone_options: {cls.__name__} has no option {unknown[0]!r} (set in_channels, '
                        f'graph_cfg and base_channels with model.input_channels / graph_layout / graph_strategy / '
                        f'base_channels); its options: {allowed}')
    from posecls.tao.to_config import model_config
    try:
        model_config(spec)
    except (ValueError, TypeError, KeyError) as e:
        raise SpecError(f'model: {cls.__name__} refuses the spec ({e})') from None


def check_label_map(spec: Dict[str, Any]) -> None:
    """``dataset.label_map`` is set and has exactly ``dataset.num_classes`` entries."""
    ds = spec['dataset']
    if ds['label_map'] is None:
        raise SpecError('dataset.label_map is required for this task: a mapping {class name: id} with ids '
                        f"0..{ds['num_classes'] - 1} (e.g. dataset.label_map={{walking: 0, sitting: 1}})")
    if len(ds['label_map']) != ds['num_classes']:
        raise SpecError(f"dataset.num_classes={ds['num_classes']} disagrees with dataset.label_map, which has "
                        f"{len(ds['label_map'])} classes ({', '.join(ds['label_map'])}); make them agree")


def _devices(spec: Dict[str, Any], section: str, notes: List[str]) -> None:
    sec = spec[section]
    if len(set(sec['gpu_ids'])) != len(sec['gpu_ids']):
        raise SpecError(f"{section}.gpu_ids: {sec['gpu_ids']} lists a GPU twice; allowed: distinct indices >= 0")
    if sec.get('gpu_id') is not None:
        sec['num_gpus'], sec['gpu_ids'] = 1, [sec['gpu_id']]
    n, ids = resolve_gpus(sec['num_gpus'], sec['gpu_ids'])
    if (n, ids) != (sec['num_gpus'], sec['gpu_ids']):
        notes.append(f"{section}.num_gpus={sec['num_gpus']} disagrees with {section}.gpu_ids={sec['gpu_ids']}; "
                     f'using GPUs {ids} (num_gpus={n}), as TAO does')
        sec['num_gpus'], sec['gpu_ids'] = n, ids


def _checkpoint_or_engine(spec: Dict[str, Any], task: str) -> None:
    sec = spec[task]
    if sec['checkpoint'] is None and sec['trt_engine'] is None:
        raise SpecError(f'{task}.checkpoint is required for this task (or {task}.trt_engine): the model to run')
    for key in ('trt_engine', 'checkpoint'):
        if sec[key] is not None and not osp.isfile(sec[key]):
            raise SpecError(f'{task}.{key}: file not found: {sec[key]}')
    if sec.get('backend') is not None or sec.get('precision') is not None:
        from posecls.deploy.backends import backend_options
        from posecls.tao.tasks.common import task_checkpoint
        try:
            backend_options(task_checkpoint(spec, task), sec['backend'], sec['precision'],
                            where=f'{task}.backend/{task}.precision')
        except (ValueError, RuntimeError) as e:
            raise SpecError(str(e)) from None


def _check_train(spec: Dict[str, Any], notes: List[str]) -> None:
    check_model(spec)
    ds, tr, opt = spec['dataset'], spec['train'], spec['train']['optim']
    check_label_map(spec)
    _existing_file(spec, 'dataset.train_dataset.data_path', 'the training .npy')
    _existing_file(spec, 'dataset.train_dataset.label_path', 'the training labels .pkl')
    has_val = ds['val_dataset']['data_path'] is not None or ds['val_dataset']['label_path'] is not None
    if has_val:
        _existing_file(spec, 'dataset.val_dataset.data_path', 'the validation .npy (or unset both val paths)')
        _existing_file(spec, 'dataset.val_dataset.label_path', 'the validation labels (or unset both val paths)')
    if ds['random_choose'] and ds['window_size'] < 1:
        raise SpecError(f"dataset.random_choose=true needs dataset.window_size >= 1 (frames per sample), got "
                        f"{ds['window_size']}")
    if not ds['random_choose'] and ds['window_size'] > 0:
        frames = _frames_of(ds['train_dataset']['data_path'])
        if frames is not None and ds['window_size'] < frames:
            notes.append(f"dataset.window_size={ds['window_size']} is smaller than the T={frames} frames of "
                         f"{ds['train_dataset']['data_path']}: without dataset.random_choose it only pads shorter "
                         'arrays and never crops, so it does nothing here (as in TAO); set random_choose=true to '
                         'train on random windows')
    for key in ('checkpoint_interval', 'validation_interval'):
        if tr[key] > tr['num_epochs']:
            raise SpecError(f"train.{key}={tr[key]} is larger than train.num_epochs={tr['num_epochs']}; "
                            f"allowed: 1..{tr['num_epochs']}")
    steps = opt['lr_steps']
    if any(b <= a for a, b in zip(steps, steps[1:])):
        raise SpecError(f'train.optim.lr_steps: {steps} must be strictly increasing epochs >= 1')
    if opt['optimizer_type'] == 'torch.optim.SGD' and opt['nesterov'] and opt['momentum'] == 0:
        raise SpecError('train.optim.nesterov=true needs train.optim.momentum > 0 (got 0); set nesterov=false or a '
                        'momentum')
    if opt['lr_scheduler'] == 'AutoReduce':
        if opt['lr_decay'] >= 1.0:
            raise SpecError(f"train.optim.lr_decay={opt['lr_decay']}: AutoReduce needs a factor < 1 (allowed: 0 < "
                            'lr_decay < 1)')
        if opt['lr_monitor'] == 'val_loss':
            if not has_val:
                raise SpecError('train.optim.lr_scheduler=AutoReduce with lr_monitor=val_loss needs '
                                'dataset.val_dataset (or lr_monitor=train_loss)')
            if tr['validation_interval'] != 1:
                raise SpecError(f"train.optim.lr_scheduler=AutoReduce with lr_monitor=val_loss checks the plateau "
                                f"after every validation: train.validation_interval must be 1, got "
                                f"{tr['validation_interval']} (or use lr_monitor=train_loss)")
    resume = tr['resume_training_checkpoint_path']
    if resume is not None:
        if not resume.endswith(RESUME_SUFFIXES):
            raise SpecError(f'train.resume_training_checkpoint_path: {resume!r} must end in .pth or .tlt (TAO)')
        _existing_file(spec, 'train.resume_training_checkpoint_path', '')
    _existing_file(spec, 'model.pretrained_model_path', '', required=False)
    _devices(spec, 'train', notes)
    if spec['wandb']['enable']:
        try:
            import wandb  # noqa: F401
        except ImportError:
            raise SpecError('wandb.enable=true needs the wandb package (pip install wandb); or set '
                            'wandb.enable=false') from None


def _check_evaluate(spec: Dict[str, Any], notes: List[str]) -> None:
    check_model(spec)
    check_label_map(spec)
    _checkpoint_or_engine(spec, 'evaluate')
    _existing_file(spec, 'evaluate.test_dataset.data_path', 'the evaluation .npy')
    _existing_file(spec, 'evaluate.test_dataset.label_path', 'the evaluation labels .pkl')
    _devices(spec, 'evaluate', notes)


def _check_inference(spec: Dict[str, Any], notes: List[str]) -> None:
    check_model(spec)
    check_label_map(spec)
    _checkpoint_or_engine(spec, 'inference')
    _existing_file(spec, 'inference.test_dataset.data_path', 'the .npy of sequences to classify')
    _existing_file(spec, 'inference.test_dataset.label_path', '', required=False)
    inf = spec['inference']
    if inf['scores_file'] is not None and not inf['output_scores']:
        raise SpecError('inference.scores_file is set but inference.output_scores is false; set '
                        'inference.output_scores=true to write the ranked scores')
    _devices(spec, 'inference', notes)


def _check_export(spec: Dict[str, Any], notes: List[str]) -> None:
    check_model(spec)
    ckpt = _existing_file(spec, 'export.checkpoint', 'the checkpoint to export')
    if ckpt.endswith(BACKEND_SUFFIXES):
        raise SpecError(f'export.checkpoint: {ckpt!r} is already a deployment file; export needs a .pth checkpoint')
    ex = spec['export']
    if ex['use_einsum'] and ex['opset'] < 12:
        raise SpecError(f"export.opset={ex['opset']}: the Einsum op needs opset >= 12 (or export.use_einsum=false)")
    onnx = ex['onnx_file']
    if onnx is not None and osp.exists(onnx) and not ex['force']:
        raise SpecError(f'export.onnx_file: {onnx} already exists (TAO refuses to overwrite); remove it, choose '
                        'another path or set export.force=true')


def _check_gen_trt_engine(spec: Dict[str, Any], notes: List[str]) -> None:
    _existing_file(spec, 'gen_trt_engine.onnx_file', 'the ONNX file to build from (posecls export)')
    trt = spec['gen_trt_engine']['tensorrt']
    lo, opt, hi = trt['min_batch_size'], trt['opt_batch_size'], trt['max_batch_size']
    if not lo <= opt <= hi:
        raise SpecError(f'gen_trt_engine.tensorrt: batch sizes must satisfy min_batch_size <= opt_batch_size <= '
                        f'max_batch_size, got {lo}, {opt}, {hi}')
    engine = spec['gen_trt_engine']['trt_engine']
    if engine is not None and osp.exists(engine) and not spec['gen_trt_engine']['force']:
        raise SpecError(f'gen_trt_engine.trt_engine: {engine} already exists; remove it or set '
                        'gen_trt_engine.force=true')


def _convert_inputs_exist(data: Any) -> None:
    files = data if isinstance(data, list) else [data]
    for f in files:
        if not (osp.isfile(f) or osp.isdir(f) or (isinstance(data, str) and glob.glob(f))):
            raise SpecError(f'dataset_convert.data: {f!r} is not a file, a folder or a glob matching files')


def _check_dataset_convert(spec: Dict[str, Any], notes: List[str]) -> None:
    dc = spec['dataset_convert']
    if dc['data'] is None:
        raise SpecError('dataset_convert.data is required for this task: the deepstream-bodypose-3d JSON')
    _convert_inputs_exist(dc['data'])
    if not dc['sequence_length_min'] <= dc['sequence_length'] <= dc['sequence_length_max']:
        raise SpecError('dataset_convert: need sequence_length_min <= sequence_length <= sequence_length_max, got '
                        f"{dc['sequence_length_min']}, {dc['sequence_length']}, {dc['sequence_length_max']}")
    step = int(dc['sequence_length'] * dc['sequence_overlap'])
    if step < 1:
        raise SpecError(f"dataset_convert.sequence_overlap={dc['sequence_overlap']}: the window step "
                        f"int(sequence_length x sequence_overlap) = {step}; it must be >= 1 (TAO loops forever)")
    from posecls.datasets.deepstream.options import ConvertOptions  # the converter's own option checks
    try:
        ConvertOptions.from_kwargs(**{k: v for k, v in dc.items() if k not in ('data', 'results_dir')})
    except ValueError as e:
        raise SpecError(str(e)) from None


_CHECKS = {'train': _check_train, 'evaluate': _check_evaluate, 'inference': _check_inference,
           'export': _check_export, 'gen_trt_engine': _check_gen_trt_engine,
           'dataset_convert': _check_dataset_convert}


def check_task(spec: Dict[str, Any], task: str) -> List[str]:
    """Check ``spec`` for ``task`` (in place normalisation of device keys).

    Returns:
        Notes for the user.

    Raises:
        SpecError: the first problem found.
    """
    if task not in _CHECKS:
        raise SpecError(f"unknown task {task!r}; allowed: {', '.join(_CHECKS)}")
    task_results_dir(spec, task)  # results_dir must be resolvable
    notes: List[str] = []
    _CHECKS[task](spec, notes)
    return notes
