"""``posecls gen_trt_engine``: a TensorRT engine from the exported ONNX, checked against ONNX Runtime.

The same :func:`posecls.deploy.gen_trt_engine.build_trt_engine` and :func:`verify_engine`
as ``tools/deployment/gen_trt_engine.py`` (TAO has no such task).
"""
import os.path as osp
from typing import Any, Dict

from posecls.tao.devices import plan_devices, set_cuda_device
from posecls.tao.errors import TaskNotAvailable
from posecls.tao.spec import task_results_dir


def engine_path(spec: Dict[str, Any]) -> str:
    """``gen_trt_engine.trt_engine``, or ``<results dir>/<onnx name>.engine``."""
    g = spec['gen_trt_engine']
    if g['trt_engine']:
        return g['trt_engine']
    stem = osp.splitext(osp.basename(g['onnx_file']))[0]
    return osp.join(task_results_dir(spec, 'gen_trt_engine'), stem + '.engine')


def run(spec: Dict[str, Any], argv=None) -> Dict[str, Any]:
    """Build the engine and check its parity; returns the build settings plus ``parity`` and ``trt_engine``."""
    g, trt = spec['gen_trt_engine'], spec['gen_trt_engine']['tensorrt']
    plan = plan_devices('gen_trt_engine', [g['gpu_id']], multi_gpu=False)
    if plan.mode == 'cpu':
        raise TaskNotAvailable('posecls gen_trt_engine needs a CUDA GPU (TensorRT builds engines on the GPU that '
                               'runs them); none is visible')
    set_cuda_device(plan)
    from posecls.deploy.gen_trt_engine import build_trt_engine, verify_engine
    out = engine_path(spec)
    report = build_trt_engine(g['onnx_file'], out, fp16=trt['data_type'] == 'fp16', min_batch=trt['min_batch_size'],
                              opt_batch=trt['opt_batch_size'], max_batch=trt['max_batch_size'],
                              workspace_mib=trt['workspace_size'], force=g['force'])
    print(f'TensorRT engine written to {out}', flush=True)
    parity = verify_engine(out, device=plan.device)
    print(f"parity vs ONNX Runtime: max abs diff {parity['max_abs_diff']} (atol {parity['atol']})", flush=True)
    return dict(report, parity=parity, trt_engine=out)
