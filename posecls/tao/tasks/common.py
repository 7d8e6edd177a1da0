"""Helpers shared by the evaluate, inference and export tasks: spec -> config, devices, class names."""
from typing import Any, Dict, List, Optional

from posecls.tao.devices import DevicePlan, plan_devices, set_cuda_device
from posecls.tao.spec import task_results_dir


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


def task_config(spec: Dict[str, Any], task: str, test_paths: Optional[Dict[str, Optional[str]]] = None):
    """The mmengine config of a checked spec for ``task`` (what ``configs/`` would give for the same run).

    Args:
        spec: Checked spec.
        task: ``'evaluate'``, ``'inference'`` or ``'export'``: the work dir is its results dir,
            the test loader uses ``<task>.batch_size``.
        test_paths: ``{data_path, label_path}`` of the sequences the task runs on (TAO's
            ``<task>.test_dataset``); default: the spec's evaluation / validation set.
    """
    from posecls.tao.to_config import dataset_config, spec_to_config, test_loader
    cfg = spec_to_config(spec, task_results_dir(spec, task))
    if test_paths is not None and test_paths.get('data_path') is not None:
        cfg.test_dataloader = test_loader(spec, dataset_config(spec, test_paths, [dict(type='PackPoseInputs')]))
        cfg.test_cfg = dict(type='TestLoop')
    if cfg.get('test_dataloader'):
        cfg.test_dataloader.batch_size = batch_size(spec, task) if 'batch_size' in spec[task] else \
            spec['dataset']['batch_size']
    return cfg


def task_checkpoint(spec: Dict[str, Any], task: str) -> str:
    """``<task>.trt_engine`` (a TensorRT engine or ONNX file) when set, else ``<task>.checkpoint``."""
    sec = spec[task]
    return sec.get('trt_engine') or sec['checkpoint']


def runtime_options(spec: Dict[str, Any], task: str) -> Dict[str, str]:
    """``init_backend`` options of ``<task>.backend`` / ``<task>.precision`` (empty when neither is set).

    Checked by :mod:`posecls.tao.checks` before any work (an exported model, a backend that opens it, a precision
    it offers); checked again here for a spec that did not go through the checks.
    """
    from posecls.deploy.backends import backend_options
    sec = spec[task]
    return backend_options(task_checkpoint(spec, task), sec.get('backend'), sec.get('precision'),
                           where=f'{task}.backend/{task}.precision')
