"""mmengine file backend ``atomic_local``: mmengine's LocalBackend with atomic (and optionally encrypted) writes.

Importing this module registers the backend (``backend_args=dict(backend='atomic_local')``, what
PoseCheckpointHook writes through); ``posecls.utils.register_all_modules()`` imports it. It is apart from
:mod:`posecls.utils.atomic_io` because it needs mmengine, which the plain atomic writers do not.
"""
from mmengine.fileio import LocalBackend, register_backend

from posecls.utils import atomic_io
from posecls.utils.atomic_io import PathLike


class AtomicLocalBackend(LocalBackend):
    """mmengine ``LocalBackend`` whose ``put``/``put_text`` write atomically.

    posecls writes checkpoints through this backend (PoseCheckpointHook), so
    ``put`` is also where checkpoints are encrypted when a passphrase is active
    (``posecls.utils.encryption``; TAO's ``encryption_key``). Text is never encrypted.
    """

    def put(self, obj: bytes, filepath: PathLike) -> None:
        """Write bytes to ``filepath`` atomically (encrypted when a passphrase is set)."""
        from posecls.utils.encryption import maybe_encrypt  # local: keeps cryptography off the import path
        atomic_io.atomic_write_bytes(filepath, maybe_encrypt(obj))

    def put_text(self, obj: str, filepath: PathLike, encoding: str = 'utf-8') -> None:
        """Write text to ``filepath`` atomically."""
        atomic_io.atomic_write_bytes(filepath, obj.encode(encoding))


register_backend('atomic_local', AtomicLocalBackend, force=True)

__all__ = ['AtomicLocalBackend']
