"""init_recognizer / inference_recognizer: build a model from a config and classify sequences."""
import os.path as osp
from typing import Any, List, Optional, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from torch import nn

from posecls.datasets.pose_dataset import classes_from_label_map, load_label_map
from posecls.registry import MODELS, TRANSFORMS
from posecls.utils import register_all_modules
from posecls.utils.checkpoint import load_weights


def _classes_from_config(cfg: Config) -> Optional[List[str]]:
    for key in ('test_dataloader', 'val_dataloader', 'train_dataloader'):
        ds = cfg.get(key, {}).get('dataset', {}) if cfg.get(key) else {}
        if ds.get('label_map') is not None:
            return classes_from_label_map(load_label_map(ds['label_map']), f'{key}.dataset.label_map')
    return None


def init_recognizer(config: Union[str, Config, dict], checkpoint: Optional[str] = None, device: str = 'cpu',
                    cfg_options: Optional[dict] = None) -> nn.Module:
    """Build a recognizer from a config and optionally load weights.

    Args:
        config: Config file path, Config, or dict with a ``model`` key.
        checkpoint: posecls, TAO Lightning or original ST-GCN weights. A
            classifier with a different class count is re-initialised (warning).
        device: ``'cpu'``, ``'cuda'``, ``'cuda:0'`` ...
        cfg_options: Overrides merged into the config.

    Returns:
        The model in eval mode, with ``cfg`` (the config) and ``dataset_meta``
        (``classes`` from the checkpoint meta or the config's label_map).
    """
    register_all_modules()
    if isinstance(config, str):
        config = Config.fromfile(config)
    elif isinstance(config, dict) and not isinstance(config, Config):
        config = Config(config)
    if cfg_options:
        config.merge_from_dict(cfg_options)
    model = MODELS.build(config.model)
    classes = _classes_from_config(config)
    if checkpoint is not None:
        report = load_weights(model, checkpoint, strict=True)
        meta = report['checkpoint'].get('meta', {}) if isinstance(report['checkpoint'], dict) else {}
        ckpt_classes = (meta.get('dataset_meta') or {}).get('classes')
        if ckpt_classes and len(ckpt_classes) == model.num_classes and not report['reinitialized']:
            classes = list(ckpt_classes)
    model.cfg = config
    model.dataset_meta = dict(classes=classes)
    model.to(device)
    model.eval()
    return model


def _test_pipeline(model: nn.Module) -> Compose:
    cfg = getattr(model, 'cfg', None)
    pipeline = []
    if cfg is not None and cfg.get('test_dataloader'):
        pipeline = cfg.test_dataloader.dataset.get('pipeline', [])
    steps = [TRANSFORMS.build(t) for t in pipeline if t.get('type') != 'PackPoseInputs']
    return Compose(steps)


def _is_backend(model: Any) -> bool:
    from posecls.deploy.backends.base import Backend
    return isinstance(model, Backend)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


def inference_recognizer(model: Any, data: Union[np.ndarray, str], batch_size: int = 16,
                         return_probs: bool = False) -> np.ndarray:
    """Classify skeleton sequences.

    The config's test pipeline (without packing) is applied to each sequence,
    so temporal sampling etc. match evaluation.

    Args:
        model: From :func:`init_recognizer`, or a deployed
            :class:`posecls.deploy.Backend` from :func:`posecls.deploy.init_backend`
            (ONNX Runtime / TensorRT; its ``cfg``, when set, gives the pipeline).
        data: (C, T, V, M) or (N, C, T, V, M) array, or a ``.npy`` path (memory-mapped).
        batch_size: Sequences per forward pass.
        return_probs: Return softmax probabilities instead of logits.

    Returns:
        np.ndarray: (N, num_classes) float32 logits (TAO's ``fc_pred``) or probabilities.
    """
    if isinstance(data, str):
        if not osp.isfile(data):
            raise FileNotFoundError(f'data file not found: {data}')
        data = np.load(data, mmap_mode='r', allow_pickle=False)
    arr = data[None] if data.ndim == 4 else data
    if arr.ndim != 5:
        raise ValueError(f'expected (C, T, V, M) or (N, C, T, V, M) data, got shape {tuple(data.shape)}')
    pipeline = _test_pipeline(model)
    backend = _is_backend(model)
    device = None if backend else next(model.parameters()).device
    outputs = []
    with torch.no_grad():
        for start in range(0, arr.shape[0], batch_size):
            batch = []
            for i in range(start, min(start + batch_size, arr.shape[0])):
                res = pipeline(dict(keypoint=np.array(arr[i], dtype=np.float32), label=-1, sample_idx=i,
                                    rng=np.random.default_rng([0, i])))
                batch.append(torch.from_numpy(np.ascontiguousarray(res['keypoint'], dtype=np.float32)))
            if backend:
                x = torch.stack(batch).numpy()
                if x.ndim == 6:  # (N, clips, C, T, V, M): average the clips' logits like mode='tensor'
                    logits = model.infer(x.reshape((-1, ) + x.shape[2:])).reshape(x.shape[0], x.shape[1], -1)
                    logits = logits.mean(axis=1)
                else:
                    logits = model.infer(x)
                outputs.append(_softmax(logits) if return_probs else logits)
                continue
            inputs = torch.stack(batch).to(device)
            logits = model(inputs, mode='tensor')
            outputs.append((logits.softmax(-1) if return_probs else logits).float().cpu().numpy())
    return np.concatenate(outputs)


