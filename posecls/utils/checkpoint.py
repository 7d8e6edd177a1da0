"""Safe checkpoint loading and conversion of TAO / original ST-GCN weights.

Checkpoints are read with ``torch.load(weights_only=True)``: nothing in the file
can run code. Only the few classes an mmengine training checkpoint holds are
allow-listed (``CHECKPOINT_SAFE_GLOBALS``); any other global makes loading fail
with a message that names it.

Accepted formats (:func:`load_state_dict_any`):
    * posecls / mmengine: ``{'state_dict': {'backbone.*', 'cls_head.*'}, 'meta': ...}``
    * TAO Lightning: ``{'state_dict': {'model.<key>'}, 'epoch': ...}``
    * original ST-GCN / TAO bare: ``{'A', 'data_bn.*', 'st_gcn_networks.*', 'edge_importance.*', 'fcn.*'}``
"""
import hashlib
import io
import os.path as osp
import pickle
import pickletools
import struct
from collections import OrderedDict
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Optional, Tuple

import numpy as np
import torch
from mmengine.logging import MMLogger
from torch import nn

from posecls.utils.encryption import is_encrypted_file, read_decrypted


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be read or does not fit the model."""


class ClassCountError(CheckpointError):
    """A checkpoint or exported model trained for another number of classes than the config's."""


def _numpy_globals() -> List[Any]:
    # What pickled numpy arrays/scalars reference (HistoryBuffer holds arrays;
    # message-hub runtime info may hold numpy scalars). Files written under
    # numpy 1 name the functions ``numpy.core.multiarray.*``, under numpy 2
    # ``numpy._core.multiarray.*``: allow both spellings of the same objects.
    try:
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct, scalar
    names: List[Any] = [_reconstruct, scalar, np.ndarray, np.dtype,
                        (_reconstruct, 'numpy.core.multiarray._reconstruct'),
                        (scalar, 'numpy.core.multiarray.scalar')]
    names += [type(np.dtype(t)) for t in ('float64', 'float32', 'float16', 'int64', 'int32', 'int16', 'int8',
                                          'uint8', 'bool')]
    return names


#: numpy arrays/scalars only: posecls writes its message hub as plain data
#: (SafeStateHook), so HistoryBuffer and the ``builtins.getattr`` its pickle
#: needs are deliberately *not* allowed.
CHECKPOINT_SAFE_GLOBALS: List[Any] = _numpy_globals()


@contextmanager
def checkpoint_safe_globals() -> Iterator[None]:
    """Allow-list exactly the classes a posecls/mmengine training checkpoint needs."""
    with torch.serialization.safe_globals(CHECKPOINT_SAFE_GLOBALS):
        yield


def _scan_legacy_pickle_globals(path: str) -> List[str]:
    """Names of the globals a plain (non-zip) pickle references, read with pickletools (nothing runs)."""
    found, strings = [], []
    try:
        with open(path, 'rb') as f:
            for op, arg, _ in pickletools.genops(f):
                if op.name in ('SHORT_BINUNICODE', 'BINUNICODE', 'UNICODE'):
                    strings.append(arg)
                elif op.name in ('GLOBAL', 'INST'):
                    found.append(arg.replace(' ', '.'))
                elif op.name == 'STACK_GLOBAL' and len(strings) >= 2:
                    found.append(f'{strings[-2]}.{strings[-1]}')
    except Exception:  # noqa: BLE001 - best effort for the message
        pass
    return sorted(set(found))


#: key of the content hash posecls stores in every checkpoint it writes (see :func:`seal_checkpoint`)
CONTENT_HASH_KEY = 'posecls_content_sha256'


def _digest_update(h: 'hashlib._Hash', obj: Any) -> None:
    """Feed a canonical encoding of ``obj`` (nested containers, tensors, scalars) into ``h``."""
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous()
        h.update(b'T' + str(t.dtype).encode() + struct.pack(f'>{t.dim() + 1}q', t.dim(), *t.shape))
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(obj, dict):
        h.update(b'D' + struct.pack('>q', len(obj)))
        for k, v in obj.items():
            _digest_update(h, k)
            _digest_update(h, v)
    elif isinstance(obj, (list, tuple)):
        h.update((b'L' if isinstance(obj, list) else b'U') + struct.pack('>q', len(obj)))
        for v in obj:
            _digest_update(h, v)
    elif isinstance(obj, np.ndarray):
        h.update(b'N' + str(obj.dtype).encode() + repr(obj.shape).encode())
        h.update(np.ascontiguousarray(obj).tobytes())
    elif isinstance(obj, (bytes, bytearray)):
        h.update(b'B' + struct.pack('>q', len(obj)) + bytes(obj))
    else:  # str, int, float, bool, None, numpy scalars, torch.Size/dtype ...: their exact text form
        text = repr(obj).encode()
        h.update(b'S' + type(obj).__name__.encode() + struct.pack('>q', len(text)) + text)


def content_digest(ckpt: Dict[str, Any]) -> str:
    """sha256 of everything in a checkpoint dict except the stored hash itself (tensors by their bytes)."""
    h = hashlib.sha256()
    _digest_update(h, {k: v for k, v in ckpt.items() if k != CONTENT_HASH_KEY})
    return h.hexdigest()


def seal_checkpoint(ckpt: Dict[str, Any]) -> Dict[str, Any]:
    """Store :func:`content_digest` in ``ckpt`` (in place; the checkpoint writer's last step)."""
    ckpt[CONTENT_HASH_KEY] = content_digest(ckpt)
    return ckpt


def verify_checkpoint(ckpt: Any, path: str) -> None:
    """Check the content hash of a loaded checkpoint (checkpoints without one -- TAO's, others' -- pass).

    Raises:
        CheckpointError: the stored and the recomputed hash differ: the file was changed or damaged.
    """
    if not isinstance(ckpt, dict) or CONTENT_HASH_KEY not in ckpt:
        return
    stored, actual = ckpt[CONTENT_HASH_KEY], content_digest(ckpt)
    if stored != actual:
        raise CheckpointError(f'{path} is damaged: its content hash is {actual[:16]}... but the file records '
                              f'{str(stored)[:16]}... (a flipped byte, a partial copy or an edit after saving). '
                              'Use another checkpoint (e.g. an earlier model_epoch_*.pth) or the original file.')


def load_checkpoint_file(path: str, map_location: Any = 'cpu') -> Any:
    """``torch.load`` a file safely (``weights_only=True`` plus the allow-list).

    A posecls-encrypted file (``posecls.utils.encryption``) is decrypted in memory
    with the active passphrase first. A TAO checkpoint encrypted with NVIDIA's
    closed library is refused with instructions.

    Args:
        path: Checkpoint file.
        map_location: Passed to ``torch.load``.

    Returns:
        The unpickled object (usually a dict).

    Raises:
        FileNotFoundError: the file does not exist.
        EncryptionError: the file is posecls-encrypted and the key is missing or wrong.
        CheckpointError: the file needs classes outside the allow-list (they are
            named), is TAO-encrypted, is not a torch checkpoint, or its content
            hash (every checkpoint posecls writes has one) does not match.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint not found: {path}')
    source: Any = path
    if is_encrypted_file(path):
        source = io.BytesIO(read_decrypted(path))  # EncryptionError names the file and the problem
    try:
        with checkpoint_safe_globals():
            ckpt = torch.load(source, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        try:
            if not isinstance(source, str):
                source.seek(0)
            unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(source)
        except Exception:  # noqa: BLE001 - best effort for the message (legacy non-zip files)
            unsafe = []
        if isinstance(source, str):
            unsafe = unsafe or _scan_legacy_pickle_globals(path)
        if any(u.split('.')[0] == 'eff' or u.startswith('nvidia_eff') for u in unsafe):
            raise CheckpointError(_tao_encrypted_message(path)) from e
        extra = f' It refers to: {", ".join(unsafe)}.' if unsafe else ''
        if any('HistoryBuffer' in u for u in unsafe):
            extra += (' (A checkpoint written by plain mmengine pickles its message hub; load it for weights only '
                      'with load_from, or resave its state_dict.)')
        raise CheckpointError(
            f'refusing to load {path}: it contains objects that could execute code when unpickled '
            f'(posecls loads checkpoints with torch.load(weights_only=True)).{extra} Re-save it as a plain '
            f"state_dict: torch.save({{'state_dict': model.state_dict()}}, 'clean.pth').") from e
    except (RuntimeError, EOFError, ValueError, KeyError, OSError) as e:
        raise CheckpointError(f'{path} is not a readable PyTorch checkpoint ({type(e).__name__}: {e}). Is the file '
                              'complete?') from e
    if isinstance(ckpt, dict):
        _check_not_tao_encrypted(ckpt, path)
        verify_checkpoint(ckpt, path)
    return ckpt


def _tao_encrypted_message(path: str) -> str:
    return (f'{path} is a TAO checkpoint encrypted with NVIDIA\'s closed "eff" library '
            '(state_dict_encrypted is set), which no open tool can decrypt. Get a plain copy from TAO: train or '
            're-save it with `encryption_key: null` in the TAO spec (plain Lightning .pth), or export it with '
            '`tao model pose_classification export` (TAO >= 5 writes plain ONNX) and use the .onnx, or use NGC\'s '
            '"deployable_onnx" model. posecls\'s own encryption_key (AES-GCM) is a different, open scheme.')


def _check_not_tao_encrypted(ckpt: Dict[str, Any], path: str) -> None:
    if ckpt.get('state_dict_encrypted') or isinstance(ckpt.get('state_dict'), (bytes, bytearray)):
        raise CheckpointError(_tao_encrypted_message(path))


def detect_format(state_dict: Dict[str, Any]) -> str:
    """Name the key convention of a state_dict.

    Returns:
        ``'posecls'`` (``backbone.``/``cls_head.`` keys), ``'tao_lightning'``
        (``model.`` prefix) or ``'original'`` (bare ST-GCN keys).

    Raises:
        CheckpointError: keys of none of these forms.
    """
    keys = list(state_dict)
    if any(k.startswith(('backbone.', 'cls_head.')) for k in keys):
        return 'posecls'
    if keys and all(k.startswith('model.') for k in keys):
        return 'tao_lightning'
    if any(k.startswith(('st_gcn_networks.', 'data_bn.', 'edge_importance.')) or k in ('A', 'fcn.weight')
           for k in keys):
        return 'original'
    raise CheckpointError(f'unrecognised state_dict keys (first ones: {keys[:5]}); expected posecls '
                          "('backbone.*', 'cls_head.*'), TAO Lightning ('model.*') or original ST-GCN keys")


def to_posecls_keys(state_dict: Dict[str, Any]) -> Tuple['OrderedDict[str, Any]', str]:
    """Convert TAO Lightning / original ST-GCN keys to posecls's recognizer keys.

    ``model.X`` -> ``X``; ``fcn.*`` -> ``cls_head.fcn.*``; every other bare key
    -> ``backbone.<key>``. posecls keys pass through (``module.`` prefixes of
    DDP-wrapped saves are stripped).

    Returns:
        (converted state_dict, detected format name).
    """
    sd = OrderedDict((k[len('module.'):] if k.startswith('module.') else k, v) for k, v in state_dict.items())
    fmt = detect_format(sd)
    if fmt == 'posecls':
        return sd, fmt
    if fmt == 'tao_lightning':
        sd = OrderedDict((k[len('model.'):], v) for k, v in sd.items())
    out = OrderedDict()
    for k, v in sd.items():
        out[('cls_head.' + k) if k.startswith('fcn.') else ('backbone.' + k)] = v
    return out, fmt


def extract_state_dict(ckpt: Any, path: str = '<checkpoint>') -> Tuple['OrderedDict[str, Any]', str]:
    """Return the posecls-keyed state_dict and source format of a loaded checkpoint object."""
    if not isinstance(ckpt, dict):
        raise CheckpointError(f'{path}: expected a dict checkpoint, got {type(ckpt).__name__}')
    _check_not_tao_encrypted(ckpt, path)
    sd = ckpt.get('state_dict', ckpt)
    if not isinstance(sd, dict) or not sd:
        raise CheckpointError(f'{path}: no state_dict found')
    return to_posecls_keys(sd)


def load_state_dict_any(path: str, map_location: Any = 'cpu') -> Tuple['OrderedDict[str, Any]', str, dict]:
    """Load a checkpoint file of any accepted format.

    Returns:
        (posecls-keyed state_dict, format, the whole checkpoint dict).
    """
    ckpt = load_checkpoint_file(path, map_location=map_location)
    sd, fmt = extract_state_dict(ckpt, path)
    return sd, fmt, ckpt


def checkpoint_num_classes(state_dict: Dict[str, Any]) -> Optional[int]:
    """Classes of a posecls-keyed state_dict (rows of ``cls_head.fcn.weight``; None without a classifier)."""
    w = state_dict.get('cls_head.fcn.weight')
    return int(w.shape[0]) if hasattr(w, 'shape') and len(w.shape) else None


def check_class_count(state_dict: Dict[str, Any], model_state: Dict[str, Any], checkpoint: str,
                      allow_reinit: bool = False) -> None:
    """Refuse a checkpoint trained for another number of classes than the model (unless fine-tuning).

    Evaluation, inference, export and resume must use the classes the checkpoint was
    trained for: a re-initialised classifier predicts at random.

    Raises:
        ClassCountError: naming both class counts and the ways out.
    """
    got, want = checkpoint_num_classes(state_dict), checkpoint_num_classes(model_state)
    if allow_reinit or got is None or want is None or got == want:
        return
    raise ClassCountError(
        f'{checkpoint} was trained for {got} classes but the config has {want} (model.cls_head.num_classes / '
        'label_map): evaluation, inference, export and resume need the classes the checkpoint was trained for. '
        'Use the config of that run, or, to fine-tune on new classes, start a training with load_from / '
        'model.pretrained_model_path (the classifier is then re-initialised).')


def load_weights(model: nn.Module, checkpoint: str, strict: bool = True, reinit_head: bool = True,
                 logger: Optional[MMLogger] = None, map_location: Any = 'cpu') -> Dict[str, Any]:
    """Load weights of any accepted format into a :class:`SkeletonRecognizer`.

    When only the classifier (``cls_head.fcn``) has a different shape (another
    number of classes), the backbone is loaded and the head keeps its fresh
    initialisation, with a warning. Any other mismatch is an error that names
    the tensors and shapes (layout, strategy, channels, edge importance).

    Args:
        model: The recognizer.
        checkpoint: Path of the checkpoint.
        strict: Fail on missing or unexpected keys (other than a re-initialised head).
        reinit_head: Allow the class-count mismatch described above (fine-tuning only;
            otherwise a :class:`CheckpointError` names both class counts).
        logger: Where warnings go. Defaults to the current mmengine logger.
        map_location: Passed to ``torch.load``.

    Returns:
        dict with ``format``, ``reinitialized`` (head keys skipped),
        ``missing`` and ``unexpected`` keys, and ``checkpoint`` (the loaded dict).
    """
    logger = logger or MMLogger.get_current_instance()
    sd, fmt, ckpt = load_state_dict_any(checkpoint, map_location=map_location)
    own = model.state_dict()
    check_class_count(sd, own, checkpoint, allow_reinit=reinit_head)
    reinit, mismatched = [], []
    for k, v in list(sd.items()):
        if k in own and hasattr(v, 'shape') and tuple(v.shape) != tuple(own[k].shape):
            if k.startswith('cls_head.fcn.') and reinit_head:
                reinit.append(k)
                sd.pop(k)
            else:
                mismatched.append(f'{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}')
    if mismatched:
        raise CheckpointError(
            f'{checkpoint} ({fmt} format) does not fit the model: ' + '; '.join(mismatched[:6]) +
            ('; ...' if len(mismatched) > 6 else '') +
            '. Check graph_layout / graph_strategy / input_channels / edge_importance_weighting '
            '/ base_channels against the run that produced it.')
    missing = [k for k in own if k not in sd and k not in reinit]
    unexpected = [k for k in sd if k not in own]
    if strict and (missing or unexpected):
        raise CheckpointError(f'{checkpoint} ({fmt} format): missing keys {missing[:8]}, unexpected keys '
                              f'{unexpected[:8]}')
    model.load_state_dict(sd, strict=False)
    if reinit:
        logger.warning(f'{checkpoint}: the classifier has a different number of classes than the model '
                       f'({model.cls_head.num_classes}); loaded the backbone and re-initialised {reinit}.')
    return dict(format=fmt, reinitialized=reinit, missing=missing, unexpected=unexpected, checkpoint=ckpt)
