"""``posecls dataset_convert``: deepstream-bodypose-3d JSON -> ``object_<id>.npy`` arrays (TAO §5)."""
from typing import Any, Dict

from posecls.tao.optional import require
from posecls.tao.spec import task_results_dir

#: spec keys passed to posecls.datasets.deepstream.convert (TAO's names and defaults).
CONVERT_KEYS = ('pose_type', 'num_joints', 'input_width', 'input_height', 'focal_length', 'sequence_length_max',
                'sequence_length_min', 'sequence_length', 'sequence_overlap')


def run(spec: Dict[str, Any], argv=None) -> Dict[str, Any]:
    """Convert; returns the converter's report."""
    dc = spec['dataset_convert']
    convert = require('posecls.datasets.deepstream', 'convert', 'posecls dataset_convert')
    out_dir = task_results_dir(spec, 'dataset_convert')
    report = convert(dc['data'], out_dir, **{k: dc[k] for k in CONVERT_KEYS})
    print(f'Converted {dc["data"]} into {out_dir}', flush=True)
    return dict(report or {}, results_dir=out_dir)
