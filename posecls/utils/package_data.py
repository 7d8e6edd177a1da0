"""Configs, specs and projects that ship with the package (MMAction2's ``.mim`` scheme), found by name.

A wheel holds ``configs/``, ``specs/``, ``projects/`` and ``tools/`` under ``posecls/.mim/``;
a source checkout (or an editable install) uses the repository's own folders. So, from
any directory::

    posecls-train configs/stgcn_nvidia_sample.py          # ./configs/... if it exists, else the packaged one
    posecls-train posecls::configs/nwucla/ctrgcn_joint.py  # always the packaged one
    posecls train -e specs/experiment_nvidia.yaml

Loading a packaged config also makes its ``projects`` package importable, so configs that
register their own layout (``custom_imports=dict(imports=['projects.kinect_v1.layout'])``) work.
"""
import os.path as osp
import sys
from typing import Optional

#: explicit "the packaged file" prefix
PREFIX = 'posecls::'
#: folders shipped as package data
SHIPPED = ('configs', 'specs', 'projects', 'tools')


def package_data_root() -> Optional[str]:
    """``posecls/.mim`` of an installed wheel, else the source checkout holding ``configs/`` (None: neither)."""
    pkg = osp.dirname(osp.dirname(osp.abspath(__file__)))
    mim = osp.join(pkg, '.mim')
    if osp.isdir(osp.join(mim, 'configs')):
        return mim
    repo = osp.dirname(pkg)
    if osp.isdir(osp.join(repo, 'configs')) and osp.isdir(osp.join(repo, 'posecls')):
        return repo
    return None


def resolve_shipped_path(path: str) -> str:
    """The file ``path`` names: itself when it exists, else the packaged file of that name.

    Args:
        path: A path, or ``posecls::<folder>/<file>`` (always the packaged one). A relative path
            starting with one of :data:`SHIPPED` that does not exist here is looked up in the package.

    Returns:
        The path to open (unchanged when nothing else applies, so the caller's "not found" names it).

    Raises:
        FileNotFoundError: a ``posecls::`` name that the package does not ship.
    """
    if path.startswith(PREFIX):
        rel = path[len(PREFIX):].lstrip('/')
        root = package_data_root()
        if root is None or not osp.isfile(osp.join(root, rel)):
            raise FileNotFoundError(f'{path}: posecls ships no {rel} (packaged files are under {SHIPPED})')
        _importable(root)
        return osp.join(root, rel)
    if osp.exists(path) or osp.isabs(path):
        return path
    head = path.replace('\\', '/').split('/')[0]
    root = package_data_root()
    if head in SHIPPED and root is not None and osp.isfile(osp.join(root, path)):
        _importable(root)
        return osp.join(root, path)
    return path


def _importable(root: str) -> None:
    """Make ``projects`` (user-style plugins shipped with posecls) importable, after the user's own paths."""
    if root not in sys.path:
        sys.path.append(root)


__all__ = ['PREFIX', 'SHIPPED', 'package_data_root', 'resolve_shipped_path']
