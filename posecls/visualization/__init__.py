"""Visualisation of DeepStream body-pose results: ``render`` (skeletons, boxes, track ids and actions -> MP4).

Attributes are imported on first use (:mod:`posecls.utils.lazy`): nothing here imports torch or mmengine's
runner; drawing needs Pillow, video I/O imageio-ffmpeg (``pip install "posecls[render]"``).
"""
from posecls.utils.lazy import lazy_exports

_EXPORTS = {name: 'render' for name in ('render_video', 'format_render_summary', 'RenderedObject', 'frame_objects',
                                        'object_box', 'draw_frame', 'track_color')}

__getattr__, __dir__, import_all = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
