"""``posecls export``: the checkpoint as ONNX (input ``input``, output ``fc_pred``), verified with ONNX Runtime.

The spec becomes a config and :func:`posecls.deploy.export_onnx.export_checkpoint` exports
it exactly as ``tools/deployment/export_onnx.py`` does (input T from the layout or the
test pipeline's ``clip_len``, parity on random and on the spec's evaluation data).
"""
import os.path as osp
from typing import Any, Dict

from posecls.tao.spec import task_results_dir
from posecls.tao.tasks.common import single_device, task_config


def onnx_path(spec: Dict[str, Any]) -> str:
    """``export.onnx_file``, or ``<export results_dir>/<checkpoint name>.onnx``."""
    ex = spec['export']
    if ex['onnx_file']:
        return ex['onnx_file']
    stem = osp.splitext(osp.basename(osp.realpath(ex['checkpoint'])))[0]
    return osp.join(task_results_dir(spec, 'export'), stem + '.onnx')


def run(spec: Dict[str, Any], argv=None) -> Dict[str, Any]:
    """Export; returns the export report plus ``onnx_file``."""
    from posecls.deploy.export_onnx import export_checkpoint, format_export_summary
    from posecls.tao.errors import SpecError

    ex = spec['export']
    out = onnx_path(spec)
    if osp.exists(out) and not ex['force']:
        raise SpecError(f'export.onnx_file: {out} already exists; remove it or set export.force=true')
    plan = single_device(spec, 'export')
    report = export_checkpoint(task_config(spec, 'export'), ex['checkpoint'], out, device=plan.device,
                               verify=ex['verify'], opset=ex['opset'], dynamic_batch=ex['dynamic_batch'],
                               use_einsum=ex['use_einsum'], force=ex['force'])
    print(format_export_summary(report), flush=True)
    print(f'Exported {ex["checkpoint"]} to {out}', flush=True)
    return dict(report, onnx_file=out)
