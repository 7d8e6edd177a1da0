"""posecls checkpoint encryption (TAO's encryption_key, open AES-GCM scheme) and its checkpoint integration."""
import io
import os

import pytest
import torch

from posecls.utils import encryption as enc
from posecls.utils.atomic_io import AtomicLocalBackend
from posecls.utils.checkpoint import CheckpointError, load_checkpoint_file


@pytest.fixture(autouse=True)
def no_ambient_key(monkeypatch):
    monkeypatch.delenv(enc.ENV_VAR, raising=False)
    enc.set_passphrase(None)
    yield
    enc.set_passphrase(None)


@pytest.mark.parametrize('kdf', ['scrypt', 'pbkdf2'])
def test_round_trip_and_header(kdf):
    data = os.urandom(1000)
    blob = enc.encrypt_bytes(data, 'nvidia_tao', kdf=kdf)
    assert blob.startswith(enc.MAGIC) and enc.is_encrypted_bytes(blob)
    assert blob[len(enc.MAGIC)] == 1 and blob[len(enc.MAGIC) + 1] == enc.KDF_NAMES[kdf]
    assert data not in blob and b'nvidia_tao' not in blob
    assert enc.decrypt_bytes(blob, 'nvidia_tao') == data
    assert enc.encrypt_bytes(data, 'nvidia_tao', kdf=kdf) != blob  # fresh nonce per file


def test_wrong_missing_key_and_tampering():
    blob = enc.encrypt_bytes(b'secret weights', 'right')
    with pytest.raises(enc.EncryptionError, match=r'cannot decrypt x.pth: wrong encryption key'):
        enc.decrypt_bytes(blob, 'wrong', source='x.pth')
    with pytest.raises(enc.EncryptionError, match=r'x.pth is encrypted by posecls: give the key it was written with'):
        enc.decrypt_bytes(blob, source='x.pth')
    for pos in (len(enc.MAGIC) + 5, len(blob) - 1):  # header (authenticated as AAD) and ciphertext
        bad = bytearray(blob)
        bad[pos] ^= 1
        with pytest.raises(enc.EncryptionError, match='wrong encryption key .*or the file was modified'):
            enc.decrypt_bytes(bytes(bad), 'right')
    with pytest.raises(enc.EncryptionError, match='truncated'):
        enc.decrypt_bytes(blob[:40], 'right')
    with pytest.raises(enc.EncryptionError, match='is not a posecls-encrypted file'):
        enc.decrypt_bytes(b'PK\x03\x04 a zip', 'right')
    with pytest.raises(enc.EncryptionError, match='no encryption key set'):
        enc.encrypt_bytes(b'x')


def test_process_passphrase_scope_and_environment(monkeypatch):
    assert enc.get_passphrase() is None and enc.maybe_encrypt(b'plain') == b'plain'
    with enc.passphrase_scope('k1'):
        assert enc.get_passphrase() == 'k1'
        assert enc.is_encrypted_bytes(enc.maybe_encrypt(b'plain'))
        with enc.passphrase_scope(None):
            assert enc.get_passphrase() is None
        assert enc.get_passphrase() == 'k1'
    assert enc.get_passphrase() is None
    monkeypatch.setenv(enc.ENV_VAR, 'from-env')
    assert enc.get_passphrase() == 'from-env'
    with enc.passphrase_scope('explicit'):
        assert enc.get_passphrase() == 'explicit'
    with pytest.raises(ValueError, match=r"kdf must be one of \['pbkdf2', 'scrypt'\]"):
        enc.set_passphrase('k', kdf='md5')


def _checkpoint_bytes():
    buf = io.BytesIO()
    torch.save({'state_dict': {'backbone.w': torch.arange(6.0)}, 'meta': {'epoch': 3}}, buf)
    return buf.getvalue()


def test_checkpoint_writer_encrypts_and_reader_decrypts(tmp_path):
    path = str(tmp_path / 'model_epoch_003.pth')
    with enc.passphrase_scope('nvidia_tao'):
        AtomicLocalBackend().put(_checkpoint_bytes(), path)
        raw = open(path, 'rb').read()
        assert enc.is_encrypted_file(path) and b'nvidia_tao' not in raw and b'backbone.w' not in raw
        ckpt = load_checkpoint_file(path)
    assert torch.equal(ckpt['state_dict']['backbone.w'], torch.arange(6.0)) and ckpt['meta']['epoch'] == 3
    with pytest.raises(enc.EncryptionError, match=r'model_epoch_003.pth is encrypted by posecls'):
        load_checkpoint_file(path)
    with enc.passphrase_scope('nvidia_tao_'):
        with pytest.raises(enc.EncryptionError, match='wrong encryption key'):
            load_checkpoint_file(path)
    AtomicLocalBackend().put_text('text is never encrypted', str(tmp_path / 'last_checkpoint'))
    assert open(tmp_path / 'last_checkpoint').read() == 'text is never encrypted'


def test_plain_checkpoint_loads_with_a_key_set(tmp_path):
    path = str(tmp_path / 'plain.pth')
    AtomicLocalBackend().put(_checkpoint_bytes(), path)
    assert not enc.is_encrypted_file(path)
    with enc.passphrase_scope('any'):
        assert load_checkpoint_file(path)['meta']['epoch'] == 3


def test_tao_encrypted_checkpoint_is_refused_even_with_a_key(tmp_path):
    path = str(tmp_path / 'tao.pth')
    torch.save({'state_dict': b'\x00eff stream', 'state_dict_encrypted': True, 'epoch': 69}, path)
    with enc.passphrase_scope('nvidia_tao'):
        with pytest.raises(CheckpointError, match=r'TAO checkpoint encrypted with NVIDIA\'s closed "eff" library.*'
                                                  r'`encryption_key: null`'):
            load_checkpoint_file(path)
