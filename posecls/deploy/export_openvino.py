"""An exported ONNX model as an OpenVINO IR (``.xml`` + ``.bin``), verified against ONNX Runtime.

OpenVINO's own converter reads the ONNX file (:func:`posecls.deploy.backends.openvino_backend.read_model`) and
``openvino.save_model`` writes the IR in float32 (no fp16 compression), with the class names of the ONNX
metadata stored as posecls's IR entry. The parity check runs both files through the one parity check
(:func:`posecls.deploy.verify.check_parity`): ONNX Runtime is the reference, the IR runs on OpenVINO's CPU
plugin in f32. Both files are written only after the check passes (the ``.bin`` first).
"""
import json
import os
import os.path as osp
import tempfile
from typing import Any, Dict, Optional

import numpy as np

from posecls.utils.atomic_io import atomic_write_bytes

from .verify import FP32_ATOL, check_parity

__all__ = ['export_openvino']


def export_openvino(onnx_file: str, xml_file: str, *, verify: bool = True, verify_data: Optional[np.ndarray] = None,
                    atol: float = FP32_ATOL, force: bool = False) -> Dict[str, Any]:
    """Convert ``onnx_file`` to an OpenVINO IR ``xml_file`` (+ ``.bin`` beside it).

    Args:
        onnx_file: An ONNX model from :func:`posecls.deploy.export_onnx.export_checkpoint`.
        xml_file: Output ``.xml`` path.
        verify: Compare OpenVINO (f32) with ONNX Runtime on random inputs and ``verify_data``.
        verify_data: Real sequences (N, C, T, V, M) of the model's input shape.
        atol: Tolerance on the max abs logit difference.
        force: Overwrite existing files.

    Returns:
        dict: ``path`` (.xml), ``bin``, ``classes``, ``max_abs_diff`` ({kind: float}), ``top1_agreement``.

    Raises:
        FileExistsError: the output exists and not ``force``.
        ValueError: not an ``.xml`` output, a model OpenVINO cannot read, or parity above ``atol``.
        RuntimeError: openvino is not installed.
    """
    from .backends.onnxruntime_backend import OnnxRuntimeBackend
    from .backends.openvino_backend import IR_CLASSES_KEY, OpenVINOBackend, import_openvino, model_classes, read_model

    if not xml_file.lower().endswith('.xml'):
        raise ValueError(f'{xml_file}: an OpenVINO IR is written as a .xml file (and its .bin)')
    bin_file = osp.splitext(xml_file)[0] + '.bin'
    if not force and (osp.exists(xml_file) or osp.exists(bin_file)):
        raise FileExistsError(f'{xml_file} exists; pass force=True (--force) to overwrite it')
    ov = import_openvino()
    model = read_model(onnx_file)
    classes = model_classes(model)
    if classes:
        model.set_rt_info(json.dumps(list(classes)), list(IR_CLASSES_KEY))
    out_dir = osp.dirname(osp.abspath(xml_file))
    os.makedirs(out_dir, exist_ok=True)
    report: Dict[str, Any] = dict(path=osp.abspath(xml_file), bin=osp.abspath(bin_file), classes=classes,
                                  max_abs_diff={}, top1_agreement={}, atol=atol)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix='.openvino_export_') as tmp:
        tmp_xml = osp.join(tmp, 'model.xml')
        ov.save_model(model, tmp_xml, compress_to_fp16=False)
        if verify:
            parity = check_parity(OnnxRuntimeBackend(onnx_file), OpenVINOBackend(tmp_xml, precision='f32'),
                                  verify_data, atol=atol, num_random=2, seed=1)
            report.update(max_abs_diff=parity['max_abs_diff'], top1_agreement=parity['top1_agreement'])
            if not parity['passed']:
                worst = max(parity['max_abs_diff'].values())
                raise ValueError(f'OpenVINO output differs from ONNX Runtime by {worst:.3g} > atol={atol:g} '
                                 f'({parity["max_abs_diff"]}); {xml_file} was not written')
        for src, dst in ((osp.join(tmp, 'model.bin'), bin_file), (tmp_xml, xml_file)):
            with open(src, 'rb') as f:
                atomic_write_bytes(dst, f.read())
    return report
