"""posecls: skeleton-based action classification with graph convolutional networks.

Importing the package is cheap; ``posecls.utils.register_all_modules()`` imports
and registers every model, dataset, transform, metric and hook.

``GOMP_SPINCOUNT`` defaults to 10000 when posecls is imported before torch (the tools and
console scripts do): torch's OpenMP threads spin about 10 microseconds, instead of libgomp's
default 300000 iterations, before they sleep. Numerics are unchanged; on an idle machine speed is
unchanged, on a 2-core machine shared with other jobs training ran 1.6-2.2x faster
(docs/benchmarks.md). Set the variable yourself to choose otherwise.

posecls depends on mmengine-lite (no OpenCV); where OpenCV is absent, ``cv2`` is a stand-in
that names what to install if anything ever calls it (``posecls/_opencv_stub.py``).
"""
import os

os.environ.setdefault('GOMP_SPINCOUNT', '10000')

from . import _opencv_stub  # noqa: E402
from .version import __version__  # noqa: E402

_opencv_stub.install()  # mmengine imports cv2 for features posecls does not use (posecls/_opencv_stub.py)

__all__ = ['__version__']
