"""Helpers shared by the evaluate, inference and export tasks."""
import os.path as osp
from typing import Any, Dict, List, Optional

from posecls.tao.checks import BACKEND_SUFFIXES
from posecls.tao.devices import DevicePlan, plan_devices, set_cuda_device
from posecls.tao.optional import require
from posecls.tao.to_config import model_config, num_joints_of


def class_names(spec: Dict[str, Any]) -> List[str]:
    """Class names in id order (the inverse of ``dataset.label_map``)."""
    from posecls.datasets import classes_from_label_map
    return classes_from_label_map(spec['dataset']['label_map'], 'dataset.label_map')


def batch_size(spec: Dict[str, Any], task: str) -> int:
    """``<task>.batch_size``, or ``dataset.batch_size`` when it is -1 (TAO)."""
    own = spec[task].get('batch_size', -1)
    return spec['dataset']['batch_size'] if own == -1 else own


def single_device(spec: Dict[str, Any], task: str) -> DevicePlan:
    """The one device of an evaluate / inference / export run; prints the CPU fallback note."""
    sec = spec[task]
    ids = sec['gpu_ids'] if 'gpu_ids' in sec else [sec['gpu_id']]
    plan = plan_devices(task, ids, sec.get('num_nodes', 1), multi_gpu=False)
    for msg in plan.messages:
        print(msg, flush=True)
    set_cuda_device(plan)
    return plan


def open_dataset(spec: Dict[str, Any], paths: Dict[str, Optional[str]], with_labels: bool = True):
    """A PoseDataset on ``paths`` checked against the spec's layout, channels and classes (no transforms)."""
    from posecls.datasets import PoseDataset
    from posecls.utils import register_all_modules
    register_all_modules()
    ds = spec['dataset']
    return PoseDataset(paths['data_path'], paths['label_path'] if with_labels else None, label_map=ds['label_map'],
                       num_classes=ds['num_classes'], num_joints=num_joints_of(spec['model']['graph_layout']),
                       num_channels=spec['model']['input_channels'])


def build_model(spec: Dict[str, Any], checkpoint: Optional[str], device: str = 'cpu'):
    """The spec's recognizer with weights from ``checkpoint`` (any posecls-readable format).

    The class count must match the checkpoint: evaluation with a re-initialised
    classifier would be meaningless, so a mismatch is an error here.
    """
    from posecls.apis import init_recognizer
    from posecls.utils.checkpoint import load_weights
    config = dict(model=model_config(spec),
                  test_dataloader=dict(dataset=dict(label_map=spec['dataset']['label_map'],
                                                    pipeline=[dict(type='PackPoseInputs')])))
    model = init_recognizer(config, None, device='cpu')
    if checkpoint is not None:
        load_weights(model, checkpoint, strict=True, reinit_head=False)
    return model.to(device).eval()


def is_backend_file(path: Optional[str]) -> bool:
    """An ONNX / TensorRT file rather than a PyTorch checkpoint."""
    return path is not None and path.lower().endswith(BACKEND_SUFFIXES)


def load_model_or_backend(spec: Dict[str, Any], task: str, device: str):
    """The PyTorch model, or a posecls.deploy backend for ``trt_engine`` / an .onnx/.engine checkpoint."""
    sec = spec[task]
    path = sec['trt_engine'] or sec['checkpoint']
    if is_backend_file(path) or sec['trt_engine']:
        init_backend = require('posecls.deploy', 'init_backend', f'running {task} on {osp.basename(path)}')
        return init_backend(path, device=device, classes=class_names(spec))
    return build_model(spec, path, device)
