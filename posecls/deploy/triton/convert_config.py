"""The Triton client's ``--dataset_convert_config`` YAML, read into posecls's dataset_convert options.

The windows, features and window->frame rule themselves live in
:mod:`posecls.datasets.deepstream` (one implementation for ``dataset_convert`` and the client).
"""
import os.path as osp
from typing import Any, Dict

from posecls.datasets.deepstream.options import TAO_DEFAULTS, ConvertOptions

#: tao-toolkit-triton-apps spells the frame size keys frame_width / frame_height (TAO: input_width / input_height)
TRITON_ALIASES = dict(frame_width='input_width', frame_height='input_height')
#: keys of a TAO ``dataset_convert`` spec section that do not concern the client
IGNORED_KEYS = ('data', 'results_dir')


def load_convert_config(path: str) -> Dict[str, Any]:
    """Read a dataset_convert YAML (Triton or TAO key names; optionally under a ``dataset_convert:`` section).

    Returns:
        ``dataset_convert`` options with TAO's names, validated (defaults filled in), ready for
        ``posecls.datasets.deepstream.build_inference_inputs(json_file, **options)``.

    Raises:
        FileNotFoundError: missing file.
        ValueError: not a mapping, an unknown key, or an invalid value (named by ConvertOptions).
    """
    import yaml

    if not osp.isfile(path):
        raise FileNotFoundError(f'dataset_convert config not found: {path}')
    with open(path) as f:
        raw = yaml.safe_load(f) or {}
    if not isinstance(raw, dict):
        raise ValueError(f'{path}: expected a YAML mapping of dataset_convert options')
    raw = raw.get('dataset_convert', raw)
    options = {TRITON_ALIASES.get(k, k): v for k, v in raw.items() if k not in IGNORED_KEYS}
    try:
        ConvertOptions.from_kwargs(**options)  # validates every key and value
    except ValueError as e:
        raise ValueError(f'{path}: {e}') from e
    return dict(TAO_DEFAULTS, **options)
