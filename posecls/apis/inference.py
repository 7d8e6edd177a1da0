"""init_recognizer / inference_recognizer: build a model and classify sequences (the one inference loop).

``inference_recognizer`` runs exactly what ``Runner.test`` runs for one sample: the
config's test pipeline applied by a :class:`~posecls.datasets.PoseDataset` (same
per-sample seeding ``(dataset seed, index)``), mmengine's ``pseudo_collate``, the
model's data preprocessor and ``test_step`` -- for a PyTorch recognizer and for any
deployed model (a :class:`~posecls.deploy.Backend` is wrapped in a
:class:`~posecls.models.recognizers.DeployedRecognizer`), so tools/inference.py,
``posecls inference``, export parity checks, the Triton client and DeepStream
labelling all classify the same way.
"""
import os.path as osp
import sys
from typing import Any, Dict, Iterator, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from torch import nn

from posecls.datasets.pose_dataset import PoseDataset, classes_from_label_map, load_label_map
from posecls.registry import MODELS
from posecls.utils import register_all_modules
from posecls.utils.checkpoint import load_weights
from posecls.utils.config import merge_cfg_options

#: pipeline that feeds the raw arrays to the model (parity checks compare models, not preprocessing)
RAW_PIPELINE = (dict(type='PackPoseInputs'), )


def classes_from_config(cfg: Union[Config, dict]) -> Optional[List[str]]:
    """Class names from the first of test/val/train dataloaders that has a ``label_map`` (None: none has one)."""
    for key in ('test_dataloader', 'val_dataloader', 'train_dataloader'):
        ds = cfg.get(key, {}).get('dataset', {}) if cfg.get(key) else {}
        if ds.get('label_map') is not None:
            return classes_from_label_map(load_label_map(ds['label_map']), f'{key}.dataset.label_map')
    return None


def _as_config(config: Union[str, Config, dict]) -> Config:
    if isinstance(config, str):
        from posecls.utils.package_data import resolve_shipped_path
        config = resolve_shipped_path(config)
        if not osp.isfile(config):
            raise FileNotFoundError(f'config file not found: {config}')
        return Config.fromfile(config)
    if isinstance(config, dict) and not isinstance(config, Config):
        return Config(config)
    return config


def init_recognizer(config: Union[str, Config, dict], checkpoint: Optional[str] = None, device: str = 'cpu',
                    cfg_options: Optional[dict] = None) -> nn.Module:
    """Build a recognizer from a config and optionally load weights.

    Args:
        config: Config file path, Config, or dict with a ``model`` key.
        checkpoint: posecls, TAO Lightning or original ST-GCN weights, trained for
            the config's classes (another class count is refused, naming both:
            a re-initialised classifier would predict at random; fine-tune with
            ``load_from`` instead).
        device: ``'cpu'``, ``'cuda'``, ``'cuda:0'`` ...
        cfg_options: Overrides merged into the config.

    Returns:
        The model in eval mode, with ``cfg`` (the config) and ``dataset_meta``
        (``classes`` from the checkpoint meta or the config's label_map).
    """
    register_all_modules()
    config = merge_cfg_options(_as_config(config), cfg_options)
    model = MODELS.build(config.model)
    classes = classes_from_config(config)
    if checkpoint is not None:
        report = load_weights(model, checkpoint, strict=True, reinit_head=False)
        meta = report['checkpoint'].get('meta', {}) if isinstance(report['checkpoint'], dict) else {}
        ckpt_classes = (meta.get('dataset_meta') or {}).get('classes')
        if ckpt_classes and len(ckpt_classes) == model.num_classes:
            classes = list(ckpt_classes)
    model.cfg = config
    model.dataset_meta = dict(classes=classes)
    model.to(device)
    model.eval()
    return model


def init_model(config: Union[str, Config, dict], checkpoint: str, device: str = 'cpu',
               cfg_options: Optional[dict] = None, **backend_options: Any) -> nn.Module:
    """The model for ``checkpoint``: :func:`init_recognizer` for weights, a DeployedRecognizer for an export.

    Args:
        config: Config path, Config or dict.
        checkpoint: Weights (``.pth`` ...) or an exported model (``.onnx``, TensorRT engine).
        device: Device of the model / runtime.
        cfg_options: Config overrides.
        **backend_options: Extra ``init_backend`` arguments for an exported model.

    Returns:
        A model with ``cfg`` and ``dataset_meta``, in eval mode; an exported model whose
        class count differs from the config's is refused (both named).
    """
    from posecls.deploy.backends import is_deployed_model
    if not is_deployed_model(checkpoint):
        return init_recognizer(config, checkpoint, device=device, cfg_options=cfg_options)
    from posecls.models.recognizers import deployed_model_config
    register_all_modules()
    config = merge_cfg_options(_as_config(config), cfg_options)
    model = MODELS.build(deployed_model_config(config.model, checkpoint, device, **backend_options))
    model.cfg = config
    model.dataset_meta = dict(classes=model.dataset_meta.get('classes') or classes_from_config(config))
    return model.eval()


def as_recognizer(model: Any) -> nn.Module:
    """A model ``inference_recognizer`` and ``Runner.test`` can run: recognizers pass, a Backend is wrapped.

    Args:
        model: A :class:`SkeletonRecognizer` / :class:`DeployedRecognizer`, or a
            :class:`posecls.deploy.Backend` (its ``cfg``, when set, gives the pipeline,
            data preprocessor and ``average_clips``).
    """
    from posecls.deploy.backends.base import Backend
    if not isinstance(model, Backend):
        return model
    from posecls.models.recognizers import DeployedRecognizer
    cfg = model.cfg
    model_cfg = (cfg.get('model') or {}) if cfg is not None else {}
    wrapped = DeployedRecognizer(backend=model, average_clips=model_cfg.get('average_clips', 'prob'),
                                 data_preprocessor=model_cfg.get('data_preprocessor'))
    wrapped.cfg = cfg
    return wrapped


def _test_dataset_cfg(model: nn.Module) -> Dict[str, Any]:
    cfg = getattr(model, 'cfg', None)
    if cfg is not None and cfg.get('test_dataloader'):
        return dict(cfg.test_dataloader.get('dataset') or {})
    return {}


def _model_input_checks(model: nn.Module) -> Dict[str, Optional[int]]:
    """``num_joints`` / ``num_channels`` the model expects, so a data file of another shape is named."""
    backbone = getattr(model, 'backbone', None)
    if backbone is not None:
        return dict(num_joints=getattr(backbone, 'num_node', None), num_channels=getattr(backbone, 'in_channels', None))
    return {}


def build_inference_dataset(model: nn.Module, data: Union[np.ndarray, str],
                            pipeline: Optional[Sequence[dict]] = None) -> PoseDataset:
    """The PoseDataset ``inference_recognizer`` iterates: the data with the model config's test pipeline and seed.

    Args:
        model: A recognizer (``cfg`` gives ``test_dataloader.dataset.pipeline`` and ``seed``).
        data: (C, T, V, M) or (N, C, T, V, M) array, or a ``.npy`` path (memory-mapped).
        pipeline: Transforms instead of the config's test pipeline (``PackPoseInputs``
            is appended when missing); :data:`RAW_PIPELINE` feeds the arrays unchanged.
    """
    ds_cfg = _test_dataset_cfg(model)
    steps = list(ds_cfg.get('pipeline') or RAW_PIPELINE) if pipeline is None else list(pipeline)
    if not steps or not (isinstance(steps[-1], dict) and steps[-1].get('type') == 'PackPoseInputs'):
        steps.append(dict(type='PackPoseInputs'))
    if isinstance(data, np.ndarray) and data.ndim == 4:
        data = data[None]
    if isinstance(data, np.ndarray) and data.ndim != 5:
        raise ValueError(f'expected (C, T, V, M) or (N, C, T, V, M) data, got shape {tuple(data.shape)}')
    return PoseDataset(data, pipeline=steps, seed=int(ds_cfg.get('seed', 0)), **_model_input_checks(model))


def inference_recognizer(model: Any, data: Union[np.ndarray, str], batch_size: int = 16, return_probs: bool = False,
                         pipeline: Optional[Sequence[dict]] = None, progress: bool = False) -> np.ndarray:
    """Classify skeleton sequences.

    Each sequence goes through the config's test pipeline (PoseDataset, seeded
    ``(seed, index)`` like the test loop), batches are collated with
    ``pseudo_collate`` and classified by ``model.test_step`` (data preprocessor,
    forward, clip averaging). A sample holding NaN/inf is refused naming its index.

    Args:
        model: From :func:`init_recognizer`, a :class:`DeployedRecognizer`, or a
            deployed :class:`posecls.deploy.Backend` from :func:`posecls.deploy.init_backend`
            (ONNX Runtime / TensorRT; its ``cfg``, when set, gives the pipeline).
        data: (C, T, V, M) or (N, C, T, V, M) array, or a ``.npy`` path (memory-mapped).
        batch_size: Sequences per forward pass.
        return_probs: Return the prediction scores (softmax, clips averaged by
            ``average_clips``) instead of the logits.
        pipeline: See :func:`build_inference_dataset`.
        progress: Show a progress bar on a terminal (stderr).

    Returns:
        np.ndarray: (N, num_classes) float32 logits (TAO's ``fc_pred``) or scores.
    """
    model = as_recognizer(model)
    was_training = model.training
    model.eval()
    outputs = []
    try:
        with torch.no_grad():
            for batch in iter_model_inputs(model, data, batch_size, pipeline, progress=progress):
                samples = model(**batch, mode='predict')  # = model.test_step of the raw batch
                rows = [s.pred_score if return_probs else s.pred_logits for s in samples]
                outputs.append(torch.stack(rows).float().cpu().numpy())
    finally:
        model.train(was_training)
    return np.concatenate(outputs)


def iter_model_inputs(model: nn.Module, data: Union[np.ndarray, str], batch_size: int = 16,
                      pipeline: Optional[Sequence[dict]] = None, indices: Optional[Sequence[int]] = None,
                      progress: bool = False) -> Iterator[Dict[str, Any]]:
    """The batches :func:`inference_recognizer` classifies, after the model's data preprocessor.

    Each batch is the PoseDataset pipeline of :func:`build_inference_dataset` (seeded ``(seed, index)``),
    ``pseudo_collate`` and ``model.data_preprocessor(batch, False)`` -- what ``test_step`` feeds the
    forward pass (also the calibration inputs of ``posecls.deploy.quantize``).

    Args:
        model: A recognizer (a Backend is wrapped, see :func:`as_recognizer`).
        data: (C, T, V, M) / (N, C, T, V, M) array or ``.npy`` path.
        batch_size: Sequences per batch.
        pipeline: See :func:`build_inference_dataset`.
        indices: Only these sequences, in this order (default: all).
        progress: Show a progress bar on a terminal (stderr).

    Yields:
        dict(inputs=(B, C, T, V, M) or (B, clips, C, T, V, M) float32 tensor, data_samples=[...]).
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f'batch_size must be a positive int, got {batch_size!r}')
    model = as_recognizer(model)
    dataset = build_inference_dataset(model, data, pipeline)
    order = list(range(len(dataset))) if indices is None else [int(i) for i in indices]
    starts = range(0, len(order), batch_size)
    if progress and sys.stderr.isatty():
        from rich.console import Console
        from rich.progress import track
        starts = track(starts, description='Classifying', console=Console(stderr=True), transient=True)
    for start in starts:
        batch = pseudo_collate([dataset[i] for i in order[start:start + batch_size]])
        yield model.data_preprocessor(batch, False)
