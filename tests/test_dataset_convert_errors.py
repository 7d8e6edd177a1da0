"""Truncated inputs, every validation error, and atomic writes."""
import json
import os
import os.path as osp

import numpy as np
import pytest

from posecls.datasets.deepstream import convert, generate_deepstream_json, npy_io
from posecls.datasets.deepstream import dataset_convert as converter
from posecls.utils.atomic_io import atomic_open

from tao_dataset_convert_ref import tao_convert


@pytest.fixture(scope='module')
def batched(tmp_path_factory):
    path = str(tmp_path_factory.mktemp('trunc') / 'full.json')
    info = generate_deepstream_json(path, num_frames=200, num_tracks=3, seed=2, frames_per_batch=3)
    with open(path, 'rb') as f:
        text = f.read()
    return path, info, text


def _complete_frames(text: bytes, info, cut: int):
    """The JSON (as objects) of the frames that end before ``cut``, batch structure kept."""
    data = json.loads(text)
    ends = iter(info['frame_ends'])
    out = []
    for batch in data:
        keep = []
        for frame in batch['batches']:
            fn, end = next(ends)
            assert fn == frame['frame_num']
            if end <= cut:
                keep.append(frame)
        if keep:
            out.append({'num_frames_in_batch': len(keep), 'batches': keep})
    return out


@pytest.mark.parametrize('where', ['mid_number', 'after_frame', 'after_batch', 'batch_header', 'no_bracket'])
def test_truncated_json_converts_every_complete_frame(batched, tmp_path, where):
    path, info, text = batched
    ends = [e for _, e in info['frame_ends']]
    k = len(ends) * 2 // 3
    cut = {'mid_number': ends[k] - 900,  # inside a pose array of the next frame
           'after_frame': ends[k] + 1,  # just after a frame's "}" (inside a batch)
           'after_batch': text.index(b'}, {\n  "num_frames_in_batch"', ends[k]) + 3,
           'batch_header': text.index(b'"batches": [', ends[k]) + 5,
           'no_bracket': len(text.rstrip()) - 1}[where]
    cut_path = str(tmp_path / 'cut.json')
    with open(cut_path, 'wb') as f:
        f.write(text[:cut])
    s = convert(cut_path, str(tmp_path / 'out'), progress=False)
    expected = tao_convert(_complete_frames(text, info, cut))
    assert sorted(osp.basename(p) for p in s['outputs']) == sorted(f'object_{o}.npy' for o in expected)
    for oid, arr in expected.items():
        got = np.load(tmp_path / 'out' / f'object_{oid}.npy')
        assert got.tobytes() == arr.tobytes()
    assert s['truncated'] and s['inputs'][0]['truncated']
    stop = s['stopped_at']
    complete = [(fn, e) for fn, e in info['frame_ends'] if e <= cut]
    assert complete[-1][1] <= stop['byte'] <= cut
    assert stop['last_frame_num'] == complete[-1][0]
    assert s['inputs'][0]['frames'] == len(complete)
    assert stop['line'] == text[:stop['byte']].count(b'\n') + 1
    assert stop['column'] == stop['byte'] - text.rfind(b'\n', 0, stop['byte'])
    if where in ('after_frame', 'mid_number'):
        assert 'ends inside batch' in stop['reason']


def test_complete_file_is_not_truncated(batched, tmp_path):
    s = convert(batched[0], str(tmp_path), progress=False)
    assert not s['truncated'] and s['stopped_at'] is None


def _one_frame_json(path, pose3d=None, pose25d=None, extra_frame=None, object_id=3, frame_num=0):
    pose = [float(i % 17) + 0.5 for i in range(136)]
    obj = {'object_id': object_id}
    if pose25d is not False:
        obj['pose25d'] = pose if pose25d is None else pose25d
    if pose3d is not False:
        obj['pose3d'] = pose if pose3d is None else pose3d
    frames = [{'num_frames_in_batch': 1, 'batches': [{'frame_num': f, 'objects': [{'object_id': 1, 'pose3d': pose,
                                                                                   'pose25d': pose}]}]}
              for f in range(20)]
    frames.append({'num_frames_in_batch': 1, 'batches': [{'frame_num': frame_num, 'objects': [obj]}]})
    if extra_frame is not None:
        frames.append(extra_frame)
    with open(path, 'w') as f:
        json.dump(frames, f)
    return path


def _raises(tmp_path, exc, match, json_kwargs=None, raw=None, **opts):
    src = str(tmp_path / 'in.json')
    if raw is not None:
        with open(src, 'wb') as f:
            f.write(raw)
    else:
        _one_frame_json(src, **(json_kwargs or {}))
    out = tmp_path / 'out'
    with pytest.raises(exc, match=match):
        convert(src, str(out), progress=False, **opts)
    # nothing written, although object 1 before the bad entry was valid
    assert not out.exists() or not os.listdir(out)


def test_missing_pose_field_names_the_deepstream_flag(tmp_path):
    _raises(tmp_path, KeyError, r'no "pose3d" field.*--save-pose.*pose_type=25dbp',
            json_kwargs=dict(pose3d=False))
    _raises(tmp_path, KeyError, r'frame_num 0 \(batch #20\), object_id 3 has no "pose25d"',
            json_kwargs=dict(pose25d=False), pose_type='2dbp')


def test_wrong_joint_count(tmp_path):
    _raises(tmp_path, ValueError, r'"pose3d" has 132 values, expected 136 = num_joints 34 x 4.*num_joints=33',
            json_kwargs=dict(pose3d=[1.0] * 132))
    _raises(tmp_path, ValueError, r'"pose3d" has 136 values, expected 132', num_joints=33)
    _raises(tmp_path, ValueError, r'nested arrays', json_kwargs=dict(pose3d=[[1.0] * 4] * 34))


@pytest.mark.parametrize('bad,shown', [('"12.5"', "'12.5'"), ('null', 'None'), ('true', 'True')])
def test_non_numeric_values(tmp_path, bad, shown):
    src = _one_frame_json(str(tmp_path / 'x.json'))
    text = open(src).read()
    head, tail = text.rsplit('"pose3d": [', 1)
    nums = tail.split(', ', 6)
    nums[5] = bad
    raw = (head + '"pose3d": [' + ', '.join(nums)).encode()
    _raises(tmp_path, ValueError, r'object_id 3: "pose3d"\[5\] = ' + shown.replace('.', r'\.') + ' is not a number',
            raw=raw)


@pytest.mark.parametrize('opts,match', [
    (dict(sequence_overlap=0), r'sequence_overlap=0: expected a number > 0.*loop forever'),
    (dict(sequence_overlap=-0.5), r'sequence_overlap=-0.5: expected a number > 0'),
    (dict(sequence_overlap=0.001), r'window step of int\(100 \* 0.001\) = 0'),
    (dict(sequence_length=400), r'sequence_length=400 is larger than sequence_length_max=300'),
    (dict(pose_type='3d'), r"pose_type='3d' is not supported: expected one of 3dbp, 25dbp, 2dbp"),
    (dict(num_joints=0), r'num_joints=0: expected an integer >= 1'),
    (dict(sequence_length_min=0), r'sequence_length_min=0: expected an integer >= 1'),
    (dict(focal_length=0.0), r'focal_length=0.0: expected a finite number > 0'),
    (dict(input_width='1920'), r"input_width='1920': expected a finite number > 0"),
    (dict(frame_width=1920), r'unknown option\(s\) frame_width; valid options are data, results_dir'),
    (dict(split_gap=0), r'split_gap=0: expected None or an integer >= 1'),
    (dict(val_ratio=0.2), r'val_ratio needs labels'),
    (dict(label_map={'a': 0}), r'label_map is only used to build a labelled dataset'),
    (dict(progress='yes'), r"progress='yes'"),
])
def test_option_errors_before_anything_is_read_or_written(tmp_path, opts, match):
    out = tmp_path / 'out'
    with pytest.raises(ValueError, match=match):
        convert(str(tmp_path / 'missing.json'), str(out), **opts)  # options fail before the missing input
    assert not out.exists()


@pytest.mark.parametrize('raw,exc,match', [
    (b'', ValueError, r'the file is empty'),
    (b'  \n', ValueError, r'the file is empty'),
    (b'{"num_frames_in_batch": 1}', ValueError, r'expected a JSON array "\[" of batch objects at byte 0'),
    (b'[1, 2]', ValueError, r'batch #0 \(near byte \d+\) is a int 1, expected an object'),
    (b'[{"num_frames_in_batch": 1, "batches": [{"frame_num": "7", "objects": []}]}]', ValueError,
     r'batch #0: "frame_num" is \'7\', expected an integer'),
    (b'[{"num_frames_in_batch": 1, "batches": [{"frame_num": 7}]}]', ValueError,
     r'frame_num 7 \(batch #0\): "objects" is missing, expected an array'),
    (b'[{"num_frames_in_batch": 1, "batches": [{"frame_num": 7, "objects": [{"pose3d": []}]}]}]', ValueError,
     r'"object_id" is missing, expected an integer tracker id'),
    (b'[{"batches": []}]', ValueError, r'batch #0 \(near byte 1\): "num_frames_in_batch" is missing'),
    (b'[] trailing', ValueError, r'unexpected data after the closing "\]" of the JSON array \(byte 2, line 1, '
                                 r'column 3\)'),
])
def test_bad_json_structure(tmp_path, raw, exc, match):
    _raises(tmp_path, exc, match, raw=raw)


def test_missing_input_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r'dataset_convert.data: file not found: .*nope.json'):
        convert(str(tmp_path / 'nope.json'), str(tmp_path / 'out'))
    with pytest.raises(ValueError, match='results_dir=None'):
        convert(str(tmp_path / 'nope.json'), None)


def test_corrupt_batch_in_the_middle_is_an_error_with_position(batched, tmp_path):
    path, info, text = batched
    fn, end = info['frame_ends'][30]
    i = text.index(b', ', end - 300) + 2  # start of a number inside a pose array
    bad = text[:i] + b'1.2.3' + text[i + 5:]  # e.g. 653.149582 -> 1.2.349582: the error is at the second "."
    at = i + 3
    line, col = bad[:at].count(b'\n') + 1, at - bad.rfind(b'\n', 0, at)
    _raises(tmp_path, ValueError, rf'invalid JSON at byte {at} \(line {line}, column {col}\), in batch #\d+ '
                                  r'\(starting at byte \d+\): Expecting .*Only a file cut short', raw=bad)


def test_nothing_written_when_the_last_batch_is_bad(batched, tmp_path):
    path, info, text = batched
    bad = text.rstrip()[:-1] + b', {"num_frames_in_batch": 1, "batches": [{"frame_num": 999, "objects": [' \
        b'{"object_id": 5, "pose3d": [1.0, 2.0]}]}]}]'
    _raises(tmp_path, ValueError, r'frame_num 999 \(batch #\d+\), object_id 5: "pose3d" has 2 values', raw=bad)


def test_outputs_are_written_atomically(batched, tmp_path, monkeypatch):
    out = tmp_path / 'out'
    first = convert(batched[0], str(out), progress=False)
    before = {p: open(p, 'rb').read() for p in first['outputs']}
    victim = osp.basename(first['outputs'][1])

    def crash_on_victim(path, arr):
        if osp.basename(path) == victim:
            with atomic_open(path, 'wb') as f:
                f.write(b'\x93NUMPY half')  # a partial file, then the process dies
                raise KeyboardInterrupt
        npy_io.save_npy(path, arr * 0 + 1)

    monkeypatch.setattr(converter, 'save_npy', crash_on_victim)
    with pytest.raises(KeyboardInterrupt):
        convert(batched[0], str(out), progress=False)
    assert sorted(os.listdir(out)) == sorted(osp.basename(p) for p in first['outputs'])  # no temporary files left
    assert open(out / victim, 'rb').read() == before[str(out / victim)]  # kept its previous complete content
    p0 = first['outputs'][0]
    assert np.all(np.load(p0) == 1)  # written before the crash: complete new content
    for p in first['outputs']:  # every file is complete: old or new, never half-written
        assert open(p, 'rb').read() == before[p] or np.all(np.load(p) == 1)


def test_npy_block_writer_is_np_save_and_atomic(tmp_path):
    a = np.random.default_rng(0).random((5, 3, 4, 2, 1)).astype(np.float32)
    with npy_io.npy_block_writer(str(tmp_path / 'a.npy'), a.shape) as write:
        write(a[:2])
        write(a[2:])
    np.save(tmp_path / 'b.npy', a, allow_pickle=False)
    assert (tmp_path / 'a.npy').read_bytes() == (tmp_path / 'b.npy').read_bytes()
    with pytest.raises(ValueError, match='2 rows written, 5 expected'):
        with npy_io.npy_block_writer(str(tmp_path / 'c.npy'), a.shape) as write:
            write(a[:2])
    assert sorted(os.listdir(tmp_path)) == ['a.npy', 'b.npy']
