"""``posecls export``: the checkpoint as ONNX (input ``input``, output ``fc_pred``), through posecls.deploy."""
import os.path as osp
from typing import Any, Dict

from posecls.tao.optional import require
from posecls.tao.spec import task_results_dir
from posecls.tao.tasks.common import build_model, single_device


def onnx_path(spec: Dict[str, Any]) -> str:
    """``export.onnx_file``, or ``<export results_dir>/<checkpoint name>.onnx``."""
    ex = spec['export']
    if ex['onnx_file']:
        return ex['onnx_file']
    stem = osp.splitext(osp.basename(osp.realpath(ex['checkpoint'])))[0]
    return osp.join(task_results_dir(spec, 'export'), stem + '.onnx')


def run(spec: Dict[str, Any], argv=None) -> Dict[str, Any]:
    """Export; returns posecls.deploy.export_onnx's report plus ``onnx_file``."""
    ex = spec['export']
    export_onnx = require('posecls.deploy', 'export_onnx', 'posecls export (ONNX)')
    out = onnx_path(spec)
    if osp.exists(out) and not ex['force']:
        from posecls.tao.errors import SpecError
        raise SpecError(f'export.onnx_file: {out} already exists; remove it or set export.force=true')
    plan = single_device(spec, 'export')
    model = build_model(spec, ex['checkpoint'], plan.device)
    report = export_onnx(model, out, opset=ex['opset'], dynamic_batch=ex['dynamic_batch'],
                         use_einsum=ex['use_einsum'], verify=ex['verify'], force=ex['force'])
    print(f'Exported {ex["checkpoint"]} to {out}', flush=True)
    return dict(report or {}, onnx_file=out)
