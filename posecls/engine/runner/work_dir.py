"""The checkpoints of a work dir: which one a run resumes from, and which ones it must never overwrite.

Rules (PoseRunner applies them before training writes anything):

* auto-resume takes the newest *complete* checkpoint: every candidate
  (``pc_model_latest.pth``, the file named by mmengine's ``last_checkpoint``, every
  ``model_epoch_*.pth``) is read (content hash verified) and checked against the model;
  the valid one with the highest epoch wins (``pc_model_latest.pth`` on a tie);
* a work dir holding checkpoints none of which can be resumed is refused, naming them
  and the ways out;
* a fresh start (``--no-auto-resume`` / ``resume=False``) in a work dir with checkpoints
  moves them into ``superseded_<timestamp>/`` first;
* after a resume from epoch k of run R, numbered checkpoints of later epochs that are not
  run R's (another run, unreadable) would be overwritten: refused.
"""
import os
import os.path as osp
import re
import shutil
import time
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

WAYS_OUT = ('Ways out: train in a new work dir (--work-dir / work_dir), start fresh with --no-auto-resume (the '
            'checkpoints there are moved to superseded_<timestamp>/, not overwritten), or resume a checkpoint of '
            'your choice with --resume PATH.')


class CheckpointInfo(NamedTuple):
    """What a checkpoint file holds, as far as resuming is concerned.

    Attributes:
        path: The file (a symlink's target for ``pc_model_latest.pth``).
        epoch: Finished epochs (``meta.epoch``), None when unreadable.
        run_id: The run that wrote it (None: unknown, e.g. written by an older posecls).
        problem: Why it cannot be resumed (None: it can).
    """

    path: str
    epoch: Optional[int]
    run_id: Optional[str]
    problem: Optional[str]


def numbered_pattern(filename_tmpl: str) -> 're.Pattern':
    """Regex of the numbered checkpoint names of ``filename_tmpl`` (``model_epoch_{:03d}.pth``), epoch in group 1."""
    head, _, rest = filename_tmpl.partition('{')
    tail = rest.partition('}')[2]
    return re.compile('^' + re.escape(head) + r'(\d+)' + re.escape(tail) + '$')


def checkpoint_files(work_dir: str, filename_tmpl: str, latest_name: str) -> Dict[str, Any]:
    """The checkpoint files of ``work_dir``.

    Returns:
        dict: ``latest`` (path or None; a dangling link counts as present in ``dangling``),
        ``last_checkpoint`` (the path mmengine's ``last_checkpoint`` file names, or None),
        ``numbered`` ([(epoch, path)] by decreasing epoch), ``dangling`` (broken links).
    """
    out: Dict[str, Any] = dict(latest=None, last_checkpoint=None, numbered=[], dangling=[])
    if not osp.isdir(work_dir):
        return out
    latest = osp.join(work_dir, latest_name)
    if osp.lexists(latest):
        if osp.exists(latest):
            out['latest'] = latest
        else:
            out['dangling'].append(latest)
    record = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(record):
        with open(record) as f:
            named = f.read().strip()
        if named:
            out['last_checkpoint'] = named if osp.isabs(named) else osp.join(work_dir, named)
    pattern = numbered_pattern(filename_tmpl)
    for name in os.listdir(work_dir):
        m = pattern.match(name)
        if m and osp.isfile(osp.join(work_dir, name)):
            out['numbered'].append((int(m.group(1)), osp.join(work_dir, name)))
    out['numbered'].sort(reverse=True)
    return out


def inspect_checkpoint(path: str, model_state: Dict[str, Any]) -> CheckpointInfo:
    """Read ``path`` (hash verified, decrypted) and say whether it can resume a run of this model.

    Args:
        path: Checkpoint file.
        model_state: ``state_dict()`` of the model to resume.
    """
    from posecls.utils.checkpoint import checkpoint_num_classes, extract_state_dict, load_checkpoint_file
    from posecls.utils.encryption import EncryptionError
    try:
        ckpt = load_checkpoint_file(path)
    except (RuntimeError, EncryptionError, OSError, ValueError) as e:  # CheckpointError is a RuntimeError
        return CheckpointInfo(path, None, None, f'unreadable: {e}')
    if not isinstance(ckpt, dict):
        return CheckpointInfo(path, None, None, f'not a checkpoint dict ({type(ckpt).__name__})')
    meta = ckpt.get('meta') if isinstance(ckpt.get('meta'), dict) else {}
    epoch, run_id = meta.get('epoch'), meta.get('run_id')
    missing = [k for k in ('state_dict', 'optimizer', 'message_hub') if k not in ckpt] + (
        ['meta.epoch'] if epoch is None else [])
    if missing:
        return CheckpointInfo(path, epoch, run_id, f'not a training checkpoint (no {", ".join(missing)}): weights '
                              'only, usable with load_from')
    try:
        sd, _ = extract_state_dict(ckpt, path)
    except RuntimeError as e:
        return CheckpointInfo(path, epoch, run_id, str(e))
    got, want = checkpoint_num_classes(sd), checkpoint_num_classes(model_state)
    if got is not None and want is not None and got != want:
        return CheckpointInfo(path, epoch, run_id, f'trained for {got} classes, the config has {want}')
    bad = [f'{k} {tuple(v.shape)} vs {tuple(model_state[k].shape)}' for k, v in sd.items()
           if k in model_state and hasattr(v, 'shape') and tuple(v.shape) != tuple(model_state[k].shape)]
    missing_keys = [k for k in model_state if k not in sd]
    if bad or missing_keys:
        detail = '; '.join(bad[:3]) or f'missing {missing_keys[:3]}'
        return CheckpointInfo(path, epoch, run_id, f'another model (from another config?): {detail}')
    return CheckpointInfo(path, int(epoch), run_id, None)


def choose_resume(files: Dict[str, Any], model_state: Dict[str, Any]) -> Tuple[Optional[CheckpointInfo],
                                                                               List[CheckpointInfo]]:
    """The checkpoint to auto-resume from and the candidates that cannot be resumed.

    Candidates are read newest first (the latest link and ``last_checkpoint``, then the
    numbered files by decreasing epoch) until no unread file can be newer than the best
    valid one.

    Returns:
        (the chosen checkpoint or None, the invalid candidates read on the way).
    """
    seen, order = set(), []
    for path in [files['latest'], files['last_checkpoint']] + [p for _, p in files['numbered']]:
        if path is not None and osp.realpath(path) not in seen and osp.exists(path):
            seen.add(osp.realpath(path))
            order.append(path)
    named_epoch = {osp.realpath(p): e for e, p in files['numbered']}
    best: Optional[CheckpointInfo] = None
    invalid: List[CheckpointInfo] = []
    for path in order:
        known = named_epoch.get(osp.realpath(path))
        if best is not None and known is not None and known <= best.epoch:
            continue  # a numbered file cannot be newer than the valid checkpoint already found
        info = inspect_checkpoint(path, model_state)
        if info.problem is not None:
            invalid.append(info)
        elif best is None or info.epoch > best.epoch:
            best = info
    invalid += [CheckpointInfo(p, None, None, 'a dangling link') for p in files['dangling']]
    return best, invalid


def refusal(work_dir: str, invalid: List[CheckpointInfo]) -> str:
    """The message of a work dir whose checkpoints cannot be resumed."""
    listed = '; '.join(f'{osp.basename(i.path)}: {i.problem}' for i in invalid[:6])
    more = f' (and {len(invalid) - 6} more)' if len(invalid) > 6 else ''
    return (f'{work_dir} holds checkpoints this run can neither resume nor overwrite: {listed}{more}. '
            + WAYS_OUT)


def foreign_later_checkpoints(files: Dict[str, Any], resumed: CheckpointInfo,
                              model_state: Dict[str, Any]) -> List[CheckpointInfo]:
    """Numbered checkpoints after the resumed epoch that another run wrote (or that are unreadable)."""
    out = []
    for epoch, path in files['numbered']:
        if epoch <= resumed.epoch or osp.realpath(path) == osp.realpath(resumed.path):
            continue
        info = inspect_checkpoint(path, model_state)
        if info.problem is not None or resumed.run_id is None or info.run_id != resumed.run_id:
            why = info.problem or f'written by another run ({info.run_id or "unknown"})'
            out.append(CheckpointInfo(path, info.epoch, info.run_id, why))
    return out


def move_aside(work_dir: str, files: Dict[str, Any], history_file: Optional[str] = None) -> Optional[str]:
    """Move every checkpoint of ``work_dir`` (and its run records) into ``superseded_<timestamp>/``.

    Returns:
        The folder they went to, or None when there was nothing to move.
    """
    paths = [p for p in [files['latest'], *files['dangling']] if p is not None]
    paths += [p for _, p in files['numbered']]
    for extra in ('last_checkpoint', history_file):
        if extra and osp.lexists(osp.join(work_dir, extra)):
            paths.append(osp.join(work_dir, extra))
    if not paths:
        return None
    dest = osp.join(work_dir, time.strftime('superseded_%Y%m%d_%H%M%S'))
    n = 1
    while osp.exists(dest):
        n += 1
        dest = osp.join(work_dir, time.strftime('superseded_%Y%m%d_%H%M%S') + f'_{n}')
    os.makedirs(dest)
    for p in sorted(set(paths)):
        shutil.move(p, osp.join(dest, osp.basename(p)))
    return dest
