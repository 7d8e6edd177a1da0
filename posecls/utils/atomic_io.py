"""Atomic file writes: a reader never sees a half-written file.

Data goes to a temporary file in the destination directory, is flushed and
fsync'ed, then renamed over the destination with :func:`os.replace` (atomic on
POSIX and Windows). ``AtomicLocalBackend`` (:mod:`posecls.utils.atomic_backend`, also
reachable here) brings the same guarantee to mmengine's checkpoint writer
(``backend_args=dict(backend='atomic_local')``). This module itself needs only the
standard library: the converter and every ``--help`` write through it without mmengine.
"""
import os
import os.path as osp
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Iterator, Union

PathLike = Union[str, Path]


#: suffix of the temporary files (``.<name>.<pid>.<random>.tmp``) and links (``.<name>.<pid>.lnk``)
TEMP_SUFFIX = '.tmp'
_TEMP_NAME = re.compile(r'^\..+\.(?P<pid>\d+)\.(?:[A-Za-z0-9_]+\.tmp|lnk)$')


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_stale_temp_files(dirname: PathLike) -> list:
    """Delete the temporary files of interrupted posecls writes in ``dirname`` (not recursive).

    A write that was killed (kill -9, power loss) leaves ``.<name>.<pid>.<random>.tmp``;
    the destination itself is intact (old or new). Files of processes still running are kept.

    Returns:
        The removed paths.
    """
    dirname = str(dirname)
    removed = []
    if not osp.isdir(dirname):
        return removed
    for name in os.listdir(dirname):
        m = _TEMP_NAME.match(name)
        if m and not _pid_alive(int(m.group('pid'))):
            path = osp.join(dirname, name)
            try:
                os.unlink(path)
                removed.append(path)
            except FileNotFoundError:
                pass
    return removed


def _fsync_dir(dirname: str) -> None:
    try:
        fd = os.open(dirname, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_open(path: PathLike, mode: str = 'wb') -> Iterator[IO]:
    """Open a temporary file that replaces ``path`` only when the block succeeds.

    Args:
        path: Final destination. Its directory is created if missing.
        mode: ``'wb'`` or ``'w'``.

    Yields:
        The open temporary file. On an exception it is deleted and ``path`` is
        left untouched.
    """
    if mode not in ('wb', 'w'):
        raise ValueError(f"atomic_open supports 'wb' and 'w', got {mode!r}")
    path = str(path)
    dirname = osp.dirname(osp.abspath(path))
    os.makedirs(dirname, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{osp.basename(path)}.{os.getpid()}.', suffix=TEMP_SUFFIX, dir=dirname)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the file normal permissions
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(dirname)
    except BaseException:
        if osp.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path, 'wb') as f:
        f.write(data)


@contextmanager
def atomic_path(path: PathLike) -> Iterator[str]:
    """A temporary file's path that replaces ``path`` only when the block succeeds.

    For writers that open the file themselves (an ffmpeg subprocess): they write to the yielded path (it
    exists, empty, and ends in ``.tmp``, so name the format explicitly); the file is then fsync'ed and
    renamed over ``path``. On an exception it is deleted and ``path`` is left untouched.
    """
    path = str(path)
    dirname = osp.dirname(osp.abspath(path))
    os.makedirs(dirname, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{osp.basename(path)}.{os.getpid()}.', suffix=TEMP_SUFFIX, dir=dirname)
    os.close(fd)
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        _fsync_dir(dirname)
    except BaseException:
        if osp.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_symlink(target: str, link_path: PathLike) -> None:
    """Point ``link_path`` at ``target`` atomically (replacing a file or link).

    ``target`` is stored as given; pass a name relative to the link's directory
    so the folder can be moved.
    """
    link_path = str(link_path)
    dirname = osp.dirname(osp.abspath(link_path))
    tmp = osp.join(dirname, f'.{osp.basename(link_path)}.{os.getpid()}.lnk')
    if osp.lexists(tmp):
        os.unlink(tmp)
    os.symlink(target, tmp)
    try:
        os.replace(tmp, link_path)
    except BaseException:
        if osp.lexists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(dirname)


def __getattr__(name: str) -> Any:
    if name == 'AtomicLocalBackend':  # lives with mmengine's import in atomic_backend (registered there)
        from posecls.utils.atomic_backend import AtomicLocalBackend
        return AtomicLocalBackend
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
