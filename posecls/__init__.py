"""posecls: skeleton-based action classification with graph convolutional networks.

Importing the package is cheap; ``posecls.utils.register_all_modules()`` imports
and registers every model, dataset, transform, metric and hook.
"""
from .version import __version__

__all__ = ['__version__']
