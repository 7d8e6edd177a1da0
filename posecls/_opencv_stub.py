"""Stand-in for OpenCV, which mmengine imports at the top of its visualization modules but posecls never uses.

posecls depends on ``mmengine-lite`` (mmengine without OpenCV, 85 MB less to install). mmengine's
Runner still imports ``mmengine.visualization``, whose modules start with ``import cv2``; where
OpenCV is not installed, :func:`install` puts this module in its place. posecls draws nothing with
OpenCV (its plots use matplotlib); any use of an OpenCV function raises an ImportError that says
what to install (mmengine's own optional ``cv2.setNumThreads`` call catches it).
"""
import importlib.machinery
import importlib.util
import sys
import types

HINT = ('OpenCV is not installed (posecls does not need it; mmengine\'s image functions do): '
        'pip install opencv-python-headless')


class _MissingOpenCV(types.ModuleType):
    """A ``cv2`` whose every attribute is an ImportError naming what to install."""

    def __getattr__(self, name: str):
        if name.startswith('__') and name.endswith('__') and name != '__version__':  # import machinery probes
            raise AttributeError(name)
        raise ImportError(f'cv2.{name}: {HINT}')


def install() -> bool:
    """Register the stand-in as ``cv2`` when OpenCV is not importable; returns whether it did."""
    if 'cv2' in sys.modules or importlib.util.find_spec('cv2') is not None:
        return False
    stub = _MissingOpenCV('cv2', HINT)
    stub.__spec__ = importlib.machinery.ModuleSpec('cv2', None)
    stub.posecls_stub = True
    sys.modules['cv2'] = stub
    return True
