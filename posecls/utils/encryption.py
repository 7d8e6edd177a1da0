"""Passphrase encryption of checkpoints (posecls's open replacement for TAO's ``encryption_key``).

TAO encrypts checkpoints with NVIDIA's closed ``eff`` library, which cannot be
read openly (docs/reference.md §6.8). posecls offers its own scheme with the same
user interface -- a passphrase set once per process (TAO's cookbook
``set_passphrase``) -- built on the ``cryptography`` package:

* the key is derived from the passphrase with scrypt (default; n=2**15, r=8,
  p=1) or PBKDF2-HMAC-SHA256 (600,000 iterations) and a random 16-byte salt;
* the file is encrypted and authenticated with AES-256-GCM (random 12-byte
  nonce per file); the header is authenticated as associated data, so any
  change to the file is detected;
* an encrypted file starts with :data:`MAGIC`, so it is recognised before
  anything is unpickled.

File layout::

    MAGIC (10) | version (1) | kdf id (1) | kdf params (4) | salt (16) | nonce (12) | ciphertext + tag

The passphrase is held in process memory only (:func:`set_passphrase`) or read
from the environment variable ``POSECLS_ENCRYPTION_KEY``; it is never part of a
config, so mmengine never dumps it into ``work_dir`` or checkpoint meta.

Key derivation is slow on purpose; a writer derives its key once per process
and passphrase (one salt, a fresh nonce per file), a reader caches keys per salt.
"""
import hashlib
import os
import struct
from contextlib import contextmanager
from typing import Dict, Iterator, Optional, Tuple

#: First bytes of a posecls-encrypted file (PNG-style: binary, catches text-mode corruption).
MAGIC = b'\x89PCLSENC\r\n'
VERSION = 1
ENV_VAR = 'POSECLS_ENCRYPTION_KEY'

KDF_SCRYPT = 1
KDF_PBKDF2 = 2
KDF_NAMES = {'scrypt': KDF_SCRYPT, 'pbkdf2': KDF_PBKDF2}
SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P = 15, 8, 1
PBKDF2_ITERATIONS = 600_000

_SALT_LEN, _NONCE_LEN, _KEY_LEN = 16, 12, 32
_HEADER = struct.Struct(f'>{len(MAGIC)}sBB4s{_SALT_LEN}s{_NONCE_LEN}s')

_passphrase: Optional[str] = None
_kdf_for_writing = 'scrypt'
_key_cache: Dict[Tuple[bytes, int, bytes, bytes], bytes] = {}
_writer: Dict[Tuple[bytes, str], Tuple[bytes, bytes, bytes]] = {}  # (pass hash, kdf) -> (params, salt, key)


class EncryptionError(RuntimeError):
    """An encrypted file that cannot be read: no key, a wrong key, or a damaged file."""


def _cipher():
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # a runtime requirement, imported when used
    return AESGCM


def set_passphrase(passphrase: Optional[str], kdf: str = 'scrypt') -> None:
    """Set (or clear with None / '') the process-wide passphrase.

    Args:
        passphrase: The key. Checkpoints written afterwards through posecls's
            checkpoint writer are encrypted; encrypted files are decrypted on
            load.
        kdf: Key derivation for files written from now on: ``'scrypt'`` or
            ``'pbkdf2'`` (files of either kind are always readable).
    """
    global _passphrase, _kdf_for_writing
    if passphrase is not None and not isinstance(passphrase, str):
        raise TypeError(f'the passphrase must be a string, got {type(passphrase).__name__}')
    if kdf not in KDF_NAMES:
        raise ValueError(f'kdf must be one of {sorted(KDF_NAMES)}, got {kdf!r}')
    _passphrase = passphrase or None
    _kdf_for_writing = kdf


def get_passphrase() -> Optional[str]:
    """The active passphrase: set by :func:`set_passphrase`, else ``$POSECLS_ENCRYPTION_KEY``, else None."""
    if _passphrase is not None:
        return _passphrase
    return os.environ.get(ENV_VAR) or None


@contextmanager
def passphrase_scope(passphrase: Optional[str], kdf: str = 'scrypt') -> Iterator[None]:
    """Use ``passphrase`` inside the block and restore the previous setting afterwards."""
    previous = (_passphrase, _kdf_for_writing)
    set_passphrase(passphrase, kdf)
    try:
        yield
    finally:
        set_passphrase(*previous)


def is_encrypted_bytes(data: bytes) -> bool:
    """True when ``data`` starts with the posecls encryption header."""
    return bytes(data[:len(MAGIC)]) == MAGIC


def is_encrypted_file(path: str) -> bool:
    """True when the file at ``path`` is posecls-encrypted (reads only its first bytes)."""
    with open(path, 'rb') as f:
        return is_encrypted_bytes(f.read(len(MAGIC)))


def _pass_hash(passphrase: str) -> bytes:
    return hashlib.sha256(passphrase.encode('utf-8')).digest()


def _derive(passphrase: str, kdf_id: int, params: bytes, salt: bytes) -> bytes:
    cache_key = (_pass_hash(passphrase), kdf_id, params, salt)
    if cache_key in _key_cache:
        return _key_cache[cache_key]
    secret = passphrase.encode('utf-8')
    if kdf_id == KDF_SCRYPT:
        from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
        log2_n, r, p, _ = params
        if not 10 <= log2_n <= 22 or not 1 <= r <= 32 or not 1 <= p <= 16:
            raise EncryptionError(f'unsupported scrypt parameters (log2 n={log2_n}, r={r}, p={p})')
        key = Scrypt(salt=salt, length=_KEY_LEN, n=2**log2_n, r=r, p=p).derive(secret)
    elif kdf_id == KDF_PBKDF2:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
        (iterations, ) = struct.unpack('>I', params)
        if not 1_000 <= iterations <= 10_000_000:
            raise EncryptionError(f'unsupported PBKDF2 iteration count {iterations}')
        key = PBKDF2HMAC(algorithm=hashes.SHA256(), length=_KEY_LEN, salt=salt, iterations=iterations).derive(secret)
    else:
        raise EncryptionError(f'unknown key derivation id {kdf_id} (written by a newer posecls?)')
    _key_cache[cache_key] = key
    return key


def _writer_key(passphrase: str, kdf: str) -> Tuple[int, bytes, bytes, bytes]:
    kdf_id = KDF_NAMES[kdf]
    slot = (_pass_hash(passphrase), kdf)
    if slot not in _writer:
        params = (bytes([SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P, 0]) if kdf_id == KDF_SCRYPT
                  else struct.pack('>I', PBKDF2_ITERATIONS))
        salt = os.urandom(_SALT_LEN)
        _writer[slot] = (params, salt, _derive(passphrase, kdf_id, params, salt))
    params, salt, key = _writer[slot]
    return kdf_id, params, salt, key


def encrypt_bytes(data: bytes, passphrase: Optional[str] = None, kdf: Optional[str] = None) -> bytes:
    """Encrypt ``data`` with ``passphrase`` (default: the active one).

    Raises:
        EncryptionError: no passphrase is given or active.
    """
    passphrase = passphrase if passphrase is not None else get_passphrase()
    if not passphrase:
        raise EncryptionError('no encryption key set: set encryption_key (or $POSECLS_ENCRYPTION_KEY) to encrypt')
    kdf = kdf or _kdf_for_writing
    if kdf not in KDF_NAMES:
        raise ValueError(f'kdf must be one of {sorted(KDF_NAMES)}, got {kdf!r}')
    kdf_id, params, salt, key = _writer_key(passphrase, kdf)
    nonce = os.urandom(_NONCE_LEN)
    header = _HEADER.pack(MAGIC, VERSION, kdf_id, params, salt, nonce)
    return header + _cipher()(key).encrypt(nonce, bytes(data), header)


def decrypt_bytes(blob: bytes, passphrase: Optional[str] = None, source: str = '<bytes>') -> bytes:
    """Decrypt a posecls-encrypted ``blob``.

    Args:
        blob: The encrypted bytes (header included).
        passphrase: The key; default: the active one.
        source: Name used in error messages (the file path).

    Raises:
        EncryptionError: not an encrypted blob, no key, a wrong key or a modified file.
    """
    if not is_encrypted_bytes(blob):
        raise EncryptionError(f'{source} is not a posecls-encrypted file')
    if len(blob) < _HEADER.size + 16:
        raise EncryptionError(f'{source} is encrypted but truncated ({len(blob)} bytes)')
    passphrase = passphrase if passphrase is not None else get_passphrase()
    if not passphrase:
        raise EncryptionError(
            f'{source} is encrypted by posecls: give the key it was written with (encryption_key=<key> in the '
            f'TAO spec or on the command line, ${ENV_VAR}, or posecls.utils.encryption.set_passphrase())')
    _, version, kdf_id, params, salt, nonce = _HEADER.unpack(blob[:_HEADER.size])
    if version != VERSION:
        raise EncryptionError(f'{source}: encryption format version {version} is not supported (expected {VERSION})')
    key = _derive(passphrase, kdf_id, params, salt)
    from cryptography.exceptions import InvalidTag
    try:
        return _cipher()(key).decrypt(nonce, bytes(blob[_HEADER.size:]), bytes(blob[:_HEADER.size]))
    except InvalidTag:
        raise EncryptionError(f'cannot decrypt {source}: wrong encryption key (or the file was modified)') from None


def read_decrypted(path: str, passphrase: Optional[str] = None) -> bytes:
    """Contents of ``path``, decrypted when it is posecls-encrypted."""
    with open(path, 'rb') as f:
        data = f.read()
    return decrypt_bytes(data, passphrase, source=path) if is_encrypted_bytes(data) else data


def maybe_encrypt(data: bytes) -> bytes:
    """Encrypt ``data`` when a passphrase is active, else return it unchanged (the checkpoint writer's hook)."""
    return encrypt_bytes(data) if get_passphrase() else data


__all__ = ['MAGIC', 'ENV_VAR', 'EncryptionError', 'set_passphrase', 'get_passphrase', 'passphrase_scope',
           'is_encrypted_bytes', 'is_encrypted_file', 'encrypt_bytes', 'decrypt_bytes', 'read_decrypted',
           'maybe_encrypt']
