"""``convert()``: DeepStream body-pose JSON -> TAO skeleton arrays (per object, or a labelled dataset).

Order of work, so that bad input never leaves partial output:

1. validate every option, the input paths and the label rules;
2. read every input (streaming) into per-object features, validating every pose;
   features beyond ``spill_bytes`` go to a temporary folder in ``results_dir``
   (removed on success and on error; one left by a killed run is removed here);
3. plan the windows (and labels, splits);
4. only then write, each file atomically, a block of windows at a time.
"""
import glob
import json
import logging
import os
import os.path as osp
import re
import sys
from typing import Any, Dict, List, Sequence, Tuple, Union

import numpy as np

from posecls.utils.atomic_io import atomic_write_bytes

from .npy_io import npy_block_writer, save_npy
from .options import ConvertOptions
from .spill import TrackStore, remove_stale_temp
from .tracks import Track, collect_tracks, split_positions
from .windows import covered_count, fill_window_block, piece_bounds

logger = logging.getLogger('posecls.dataset_convert')

#: inputs at least this large get a progress bar with ``progress='auto'`` (on a terminal)
AUTO_PROGRESS_BYTES = 32 << 20
_SAFE_ID = re.compile(r'^[A-Za-z0-9_.\-]+$')
#: threads writing object files concurrently
WRITE_THREADS = 4
#: most bytes of output windows built at once per writer thread (an object file larger than this is streamed)
WINDOW_BLOCK_BYTES = 4 << 20


def resolve_inputs(data: Union[str, Sequence[str]]) -> List[str]:
    """Input JSON files: a file, a folder (its ``*.json``), a glob pattern, or a list of files.

    Raises:
        FileNotFoundError: a path that does not exist, or nothing matched.
        ValueError: two inputs with the same file name.
    """
    if data is None or data == '' or (isinstance(data, (list, tuple)) and not data):
        raise ValueError('dataset_convert.data is required: the deepstream-bodypose-3d JSON file(s) to convert')
    items = [data] if isinstance(data, str) else list(data)
    files: List[str] = []
    for item in items:
        if not isinstance(item, str):
            raise ValueError(f'dataset_convert.data: {item!r} is not a path')
        if osp.isdir(item):
            found = sorted(glob.glob(osp.join(item, '*.json')))
            if not found:
                raise FileNotFoundError(f'dataset_convert.data: no *.json file in folder {item}')
            files += found
        elif osp.isfile(item):
            files.append(item)
        elif glob.has_magic(item):
            found = sorted(p for p in glob.glob(item) if osp.isfile(p))
            if not found:
                raise FileNotFoundError(f'dataset_convert.data: no file matches {item}')
            files += found
        else:
            raise FileNotFoundError(f'dataset_convert.data: file not found: {item}')
    names: Dict[str, str] = {}
    for f in files:
        base = osp.basename(f)
        if base in names:
            raise ValueError(f'dataset_convert.data: two inputs are named {base} ({names[base]} and {f}); outputs and '
                             'label rules refer to inputs by file name, so rename one')
        names[base] = f
    return files


def _file_names(path: str) -> Tuple[str, ...]:
    """Names a label rule may use for ``path``: its base name, the path as given, and the normalised path."""
    return tuple(dict.fromkeys((osp.basename(path), path, osp.normpath(path))))


def _use_progress(opts: ConvertOptions, files: Sequence[str]) -> bool:
    if opts.progress == 'auto':
        return sys.stderr.isatty() and sum(osp.getsize(f) for f in files) >= AUTO_PROGRESS_BYTES
    return bool(opts.progress)


def _object_file(results_dir: str, track: Track, multi: bool) -> str:
    oid = str(track.object_id)
    if not _SAFE_ID.match(oid):
        raise ValueError(f'{track.source}: object_id {track.object_id!r} cannot be used in a file name '
                         '(object_<id>.npy); expected letters, digits, "_", "-" or "."')
    folder = osp.join(results_dir, osp.splitext(osp.basename(track.source))[0]) if multi else results_dir
    return osp.join(folder, f'object_{oid}.npy')


def convert(data: Union[str, Sequence[str]], results_dir: str, pose_type: str = '3dbp', num_joints: int = 34,
            input_width: float = 1920, input_height: float = 1080, focal_length: float = 1200.0,
            sequence_length_max: int = 300, sequence_length_min: int = 10, sequence_length: int = 100,
            sequence_overlap: float = 0.5, **extra: Any) -> Dict[str, Any]:
    """Convert deepstream-bodypose-3d JSON to skeleton arrays, exactly like TAO's ``dataset_convert``.

    Without labels, writes ``<results_dir>/object_<object_id>.npy`` per tracked
    object (``<results_dir>/<file stem>/object_<id>.npy`` for several inputs):
    float32 (S, C, sequence_length_max, num_joints, 1), bit-identical to TAO.
    With ``labels``, writes ``train_data.npy`` + ``train_label.pkl`` (and
    ``val_*`` with a val split) + ``label_map.json`` instead.

    Args:
        data: JSON file, folder of ``*.json``, glob pattern, or list of files.
        results_dir: Output folder (created).
        pose_type, num_joints, input_width, input_height, focal_length,
        sequence_length_max, sequence_length_min, sequence_length,
        sequence_overlap: TAO's ``dataset_convert`` keys (docs/dataset_convert.md).
        **extra: posecls options: ``split_gap``, ``labels``, ``label_map``,
            ``val_ratio``, ``val_files``, ``seed``, ``progress``,
            ``chunk_bytes``, ``spill_bytes`` (see :class:`ConvertOptions`).
            Unknown keys raise.

    Returns:
        Summary dict: ``inputs`` (per file: batches, frames, appearances,
        objects, truncated, stopped_at), ``objects``, ``tracks``, ``windows``,
        ``appearances``, ``frames_skipped`` (appearances in no window),
        ``objects_skipped``, ``truncated``, ``stopped_at``, ``outputs`` (files
        written), ``arrays`` (file -> shape), ``warnings``; in labelled mode also
        ``label_map``, ``splits`` and ``windows_unlabelled``.

    Raises:
        FileNotFoundError, KeyError, ValueError: bad options or input, naming
            the option or the file and position; raised before any output is
            written (temporary files, if any, are removed).
    """
    opts = ConvertOptions.from_kwargs(pose_type=pose_type, num_joints=num_joints, input_width=input_width,
                                      input_height=input_height, focal_length=focal_length,
                                      sequence_length_max=sequence_length_max,
                                      sequence_length_min=sequence_length_min, sequence_length=sequence_length,
                                      sequence_overlap=sequence_overlap, **extra)
    if not results_dir or not isinstance(results_dir, str):
        raise ValueError(f'dataset_convert.results_dir={results_dir!r}: expected the output folder')
    files = resolve_inputs(data)
    rules, classes = None, None
    if opts.labelled:
        from .labels import check_rule_files, load_label_rules, resolve_classes  # labelled mode only (fast start)
        rules = load_label_rules(opts.labels)
        check_rule_files(rules, [_file_names(f) for f in files])
        classes = resolve_classes(rules, opts.label_map)
        if opts.val_files is not None:
            known = {n for f in files for n in _file_names(f)}
            missing = [v for v in opts.val_files if v not in known]
            if missing:
                raise ValueError(f'dataset_convert.val_files: {missing} are not among the inputs '
                                 f'({", ".join(osp.basename(f) for f in files)})')

    progress = _use_progress(opts, files)
    created = not osp.isdir(results_dir)
    for path in remove_stale_temp(results_dir):
        logger.info('Removed %s, left by an interrupted dataset_convert run', path)
    store = TrackStore(results_dir, opts.spill_bytes)
    try:
        return _convert(files, results_dir, opts, rules, classes, progress, store)
    except BaseException:
        store.close()  # first, so that a results folder made only for temporary files is empty
        if created:
            _remove_if_empty(results_dir)
        raise
    finally:
        store.close()


def _remove_if_empty(folder: str) -> None:
    try:
        os.rmdir(folder)
    except OSError:
        pass


def _convert(files: List[str], results_dir: str, opts: ConvertOptions, rules, classes, progress: bool,
             store: TrackStore) -> Dict[str, Any]:
    """Steps 2-4 of :func:`convert` (options, inputs and rules already checked)."""
    collected = []
    for path in files:
        collector, report = collect_tracks(path, opts, store, progress=progress)
        collected.append((path, collector, report))
        if report.truncated:
            logger.warning('%s: truncated input; %s (byte %d, line %d, column %d)', path, report.stop.reason,
                           report.stop.byte, report.stop.line, report.stop.column)
    store.finish()
    per_file = [(path, c.tracks(), report, c.stats) for path, c, report in collected]

    summary = _summary_head(per_file, opts)
    plans = []  # (track, bounds, pieces)
    for path, tracks, _, _ in per_file:
        for t in tracks:
            pieces = split_positions(t.frame_nums, opts.split_gap)
            bounds = piece_bounds(pieces, opts.sequence_length, opts.step, opts.sequence_length_min)
            plans.append((t, bounds, len(pieces)))
    summary['tracks'] = sum(p[2] for p in plans)
    summary['windows'] = int(sum(len(b) for _, b, _ in plans))
    used = sum(covered_count(len(t), b) for t, b, _ in plans)
    summary['frames_skipped'] = summary['appearances'] - used
    summary['objects_skipped'] = [_track_name(t, len(files) > 1) for t, b, _ in plans if len(b) == 0]
    logger.info('Number of objects: %d', summary['objects'])

    if opts.labelled:
        _write_dataset(results_dir, plans, rules, classes, opts, summary)
    else:
        _write_objects(results_dir, plans, len(files) > 1, opts, summary)
    return summary


def _track_name(t: Track, multi: bool) -> str:
    return f'{osp.basename(t.source)}:{t.object_id}' if multi else str(t.object_id)


def _summary_head(per_file, opts: ConvertOptions) -> Dict[str, Any]:
    inputs, warnings = [], []
    for path, tracks, report, stats in per_file:
        stop = None
        if report.stop is not None:
            stop = dict(byte=report.stop.byte, line=report.stop.line, column=report.stop.column,
                        reason=report.stop.reason, last_frame_num=stats.last_frame_num)
        inputs.append(dict(path=path, bytes=report.size, batches=report.batches, frames=stats.frames,
                           appearances=stats.appearances, objects=len(tracks), truncated=report.truncated,
                           stopped_at=stop, batch_size_mismatches=stats.batch_size_mismatches))
        if stats.batch_size_mismatches:
            warnings.append(f'{path}: {stats.batch_size_mismatches} batch(es) where num_frames_in_batch differs from '
                            'the number of frames listed (TAO stops with an AssertionError; all frames were used)')
    first_stop = next((i['stopped_at'] for i in inputs if i['stopped_at']), None)
    return dict(inputs=inputs, options=opts.tao_dict(), objects=sum(i['objects'] for i in inputs),
                appearances=sum(i['appearances'] for i in inputs), truncated=any(i['truncated'] for i in inputs),
                stopped_at=first_stop, outputs=[], arrays={}, warnings=warnings)


def _write_objects(results_dir: str, plans, multi: bool, opts: ConvertOptions, summary: Dict[str, Any]) -> None:
    """One ``object_<id>.npy`` per object with at least one window (TAO's output)."""
    names: Dict[str, Track] = {}
    for t, bounds, _ in plans:
        if len(bounds):
            path = _object_file(results_dir, t, multi)
            if path in names:
                raise ValueError(f'{t.source}: object ids {names[path].object_id!r} and {t.object_id!r} both map to '
                                 f'{path}')
            names[path] = t
    os.makedirs(results_dir, exist_ok=True)
    from concurrent.futures import ThreadPoolExecutor
    # fsync waits release the GIL: a few writer threads overlap the disk with building the next arrays
    with ThreadPoolExecutor(max_workers=WRITE_THREADS) as pool:
        pending = []
        for t, bounds, _ in plans:
            if not len(bounds):
                continue
            path = _object_file(results_dir, t, multi)
            shape = [len(bounds), opts.channels, opts.sequence_length_max, opts.num_joints, 1]
            pending.append(pool.submit(_write_object, path, t, bounds, opts))
            summary['outputs'].append(path)
            summary['arrays'][path] = shape
            logger.info('Saved data %s for object %s at %s', tuple(shape), t.object_id, path)
            if len(pending) >= 2 * WRITE_THREADS:
                pending.pop(0).result()
        for fut in pending:
            fut.result()


def _write_object(path: str, t: Track, bounds: np.ndarray, opts: ConvertOptions) -> None:
    """``object_<id>.npy``: (S, C, T, V, 1) float32, built and written at most WINDOW_BLOCK_BYTES at a time."""
    window_bytes = 4 * opts.channels * opts.sequence_length_max * opts.num_joints
    per = max(1, WINDOW_BLOCK_BYTES // window_bytes)
    if len(bounds) <= per:
        save_npy(path, fill_window_block(t.features, bounds, opts.sequence_length_max))
        return
    shape = (len(bounds), opts.channels, opts.sequence_length_max, opts.num_joints, 1)
    with npy_block_writer(path, shape) as write:
        for k in range(0, len(bounds), per):
            write(fill_window_block(t.features, bounds[k:k + per], opts.sequence_length_max))


def _write_dataset(results_dir: str, plans, rules, classes: Dict[str, int], opts: ConvertOptions,
                   summary: Dict[str, Any]) -> None:
    """``train_data.npy``/``train_label.pkl`` (+ val) + ``label_map.json`` from labelled windows."""
    from posecls.datasets.label_io import save_label_file

    from .labels import label_windows, split_by_ratio
    windows = []  # (plan index, window index, label)
    used_rules = set()
    frame_ranges = {}  # plan index -> (S, 2) first and last frame_num of each window
    for pi, (t, bounds, _) in enumerate(plans):
        if not len(bounds):
            continue
        ranges = np.stack([[fr.min(), fr.max()] for fr in (np.asarray(t.frame_nums[s:e]) for s, e in bounds.tolist())])
        frame_ranges[pi] = ranges
        labels, used = label_windows(rules, _file_names(t.source), t.object_id, ranges)
        used_rules.update(r.where for r in used)
        windows += [(pi, k, lb) for k, lb in enumerate(labels) if lb is not None]
    summary['windows_unlabelled'] = summary['windows'] - len(windows)
    for r in rules:
        if r.where not in used_rules:
            summary['warnings'].append(f'{r.where}: no window lies inside this rule (label {r.label!r})')
    if not windows:
        raise ValueError('dataset_convert.labels: no window is labelled: no rule contains a whole window (check file '
                         'names, object ids and frame ranges against the summary)')
    val = set()
    if opts.val_files is not None:
        vf = set(opts.val_files)
        val = {i for i, (pi, _, _) in enumerate(windows) if vf & set(_file_names(plans[pi][0].source))}
    elif opts.val_ratio is not None:
        groups: Dict[tuple, List[int]] = {}
        glabels = {}
        for i, (pi, _, lb) in enumerate(windows):
            t = plans[pi][0]
            key = (t.source, str(t.object_id), lb)
            groups.setdefault(key, []).append(i)
            glabels[key] = lb
        val, warns = split_by_ratio(groups, glabels, opts.val_ratio, opts.seed)
        summary['warnings'] += warns
    splits = {'train': [i for i in range(len(windows)) if i not in val]}
    if opts.val_files is not None or opts.val_ratio is not None:
        splits['val'] = sorted(val)
        for name, idx in splits.items():
            if not idx:
                raise ValueError(f'dataset_convert: the {name} split would be empty ({len(windows)} labelled windows, '
                                 f'val_ratio={opts.val_ratio}, val_files={opts.val_files}); label more data or change '
                                 'the split')
    shape_tail = (opts.channels, opts.sequence_length_max, opts.num_joints, 1)
    os.makedirs(results_dir, exist_ok=True)
    summary['label_map'] = dict(classes)
    summary['splits'] = {}
    for name, idx in splits.items():
        data_path = osp.join(results_dir, f'{name}_data.npy')
        names, labels = [], []
        with npy_block_writer(data_path, (len(idx),) + shape_tail) as write:
            for i in idx:
                pi, k, lb = windows[i]
                t, bounds, _ = plans[pi]
                write(fill_window_block(t.features, bounds[k:k + 1], opts.sequence_length_max))
                first, last = frame_ranges[pi][k].tolist()
                names.append(f'{osp.basename(t.source)}:object_{t.object_id}:{first}-{last}')
                labels.append(classes[lb])
        label_path = osp.join(results_dir, f'{name}_label.pkl')
        save_label_file(label_path, names, labels)
        per_class = {c: 0 for c in classes}
        for i in idx:
            per_class[windows[i][2]] += 1
        summary['splits'][name] = dict(windows=len(idx), per_class=per_class)
        summary['outputs'] += [data_path, label_path]
        summary['arrays'][data_path] = [len(idx), *shape_tail]
        logger.info('Saved %s split: %d windows %s at %s', name, len(idx), per_class, data_path)
    map_path = osp.join(results_dir, 'label_map.json')
    atomic_write_bytes(map_path, (json.dumps(classes, indent=1) + '\n').encode())
    summary['outputs'].append(map_path)


def format_summary(summary: Dict[str, Any]) -> str:
    """Human-readable lines of a :func:`convert` summary."""
    o = summary['options']
    c = 2 if o['pose_type'] == '2dbp' else 3
    lines = [f'dataset_convert ({o["pose_type"]}): {len(summary["inputs"])} input file(s), {summary["objects"]} '
             f'object(s), {summary["tracks"]} track(s), {summary["windows"]} window(s) of '
             f'(C={c}, T={o["sequence_length_max"]}, V={o["num_joints"]}, M=1)']
    for i in summary['inputs']:
        lines.append(f'  {i["path"]}: {i["batches"]} batches, {i["frames"]} frames, {i["appearances"]} object '
                     f'appearances, {i["objects"]} objects')
        if i['stopped_at']:
            s = i['stopped_at']
            lines.append(f'    TRUNCATED: stopped at byte {s["byte"]} (line {s["line"]}, column {s["column"]}), last '
                         f'frame_num {s["last_frame_num"]}: {s["reason"]}')
    lines.append(f'  frames skipped (object appearances in no window): {summary["frames_skipped"]} of '
                 f'{summary["appearances"]}')
    skipped = summary['objects_skipped']
    lines.append(f'  objects without a window (< sequence_length_min={o["sequence_length_min"]} appearances): '
                 f'{len(skipped)}' + (f' ({", ".join(map(str, skipped[:20]))}{", ..." if len(skipped) > 20 else ""})'
                                      if skipped else ''))
    if 'splits' in summary:
        lines.append(f'  labelled windows: {summary["windows"] - summary["windows_unlabelled"]}, unlabelled (left out):'
                     f' {summary["windows_unlabelled"]}')
        for name, s in summary['splits'].items():
            counts = ', '.join(f'{k}={v}' for k, v in s['per_class'].items())
            lines.append(f'  {name}: {s["windows"]} windows {counts}')
    for w in summary['warnings']:
        lines.append(f'  warning: {w}')
    lines.append(f'  wrote {len(summary["outputs"])} file(s)' + (f' to {osp.dirname(summary["outputs"][0])}'
                                                                 if summary['outputs'] else ''))
    return '\n'.join(lines)
