"""``posecls gen_trt_engine``: a TensorRT engine from the exported ONNX (posecls.deploy; TAO has no such task)."""
import os.path as osp
from typing import Any, Dict

from posecls.tao.devices import plan_devices, set_cuda_device
from posecls.tao.errors import TaskNotAvailable
from posecls.tao.optional import require
from posecls.tao.spec import task_results_dir


def engine_path(spec: Dict[str, Any]) -> str:
    """``gen_trt_engine.trt_engine``, or ``<results dir>/<onnx name>.engine``."""
    g = spec['gen_trt_engine']
    if g['trt_engine']:
        return g['trt_engine']
    stem = osp.splitext(osp.basename(g['onnx_file']))[0]
    return osp.join(task_results_dir(spec, 'gen_trt_engine'), stem + '.engine')


def run(spec: Dict[str, Any], argv=None) -> Dict[str, Any]:
    """Build the engine; returns posecls.deploy.build_trt_engine's report plus ``trt_engine``."""
    g, trt = spec['gen_trt_engine'], spec['gen_trt_engine']['tensorrt']
    build = require('posecls.deploy', 'build_trt_engine', 'posecls gen_trt_engine (TensorRT)')
    plan = plan_devices('gen_trt_engine', [g['gpu_id']], multi_gpu=False)
    if plan.mode == 'cpu':
        raise TaskNotAvailable('posecls gen_trt_engine needs a CUDA GPU (TensorRT builds engines on the GPU that '
                               'runs them); none is visible')
    set_cuda_device(plan)
    out = engine_path(spec)
    report = build(g['onnx_file'], out, fp16=trt['data_type'] == 'fp16', min_batch=trt['min_batch_size'],
                   opt_batch=trt['opt_batch_size'], max_batch=trt['max_batch_size'],
                   workspace_mib=trt['workspace_size'], force=g['force'])
    print(f"TensorRT engine written to {out}", flush=True)
    return dict(report or {}, trt_engine=out)
