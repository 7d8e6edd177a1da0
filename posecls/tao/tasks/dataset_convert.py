"""``posecls dataset_convert``: deepstream-bodypose-3d JSON -> skeleton arrays (docs/reference.md §5).

Without ``dataset_convert.labels``: ``object_<id>.npy`` per tracked object, bit-identical
to TAO. With labels: ``train_data.npy`` / ``train_label.pkl`` (+ val) and ``label_map.json``.
"""
from typing import Any, Dict

from posecls.tao.spec import task_results_dir


def run(spec: Dict[str, Any], argv=None) -> Dict[str, Any]:
    """Convert into ``<results_dir>/dataset_convert``; prints and returns the converter's summary."""
    dc = spec['dataset_convert']
    from posecls.datasets.deepstream import convert, format_summary
    out_dir = task_results_dir(spec, 'dataset_convert')
    options = {k: v for k, v in dc.items() if k not in ('data', 'results_dir')}
    summary = convert(dc['data'], out_dir, **options)
    print(format_summary(summary), flush=True)
    print(f'Converted {dc["data"]} into {out_dir}', flush=True)
    return dict(summary or {}, results_dir=out_dir)
