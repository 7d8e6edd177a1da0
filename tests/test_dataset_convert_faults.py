"""dataset_convert under faults: any batch layout, bounded memory, temporary files, exact error positions."""
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest

from posecls.datasets.deepstream import (
    convert,
    generate_deepstream_json,
    ground_truth_labels,
    load_pose_json,
    read_tracks,
)
from posecls.datasets.deepstream import dataset_convert as converter
from posecls.datasets.deepstream.options import ConvertOptions
from posecls.datasets.deepstream.spill import TMP_PREFIX, DiskRows

from tao_dataset_convert_ref import tao_convert

SCENE = dict(num_frames=240, num_tracks=3, seed=41)


@pytest.fixture(scope='module')
def layouts(tmp_path_factory):
    """The same scene written with one frame per batch and with every frame in one batch (same file name)."""
    d = tmp_path_factory.mktemp('layouts')
    out = {}
    for name, fpb in (('per_frame', 1), ('one_batch', 10 ** 6)):
        os.makedirs(d / name)
        path = str(d / name / 'scene.json')
        out[name] = (path, generate_deepstream_json(path, frames_per_batch=fpb, **SCENE))
    return out


def _files(folder):
    return {n: open(osp.join(folder, n), 'rb').read() for n in sorted(os.listdir(folder))}


def _max_frame_bytes(info):
    ends = [e for _, e in info['frame_ends']]
    return int(np.diff(ends).max())


@pytest.mark.parametrize('chunk_bytes', [1024, 4096, 1 << 20])
def test_one_batch_layout_gives_the_same_object_files(layouts, tmp_path, chunk_bytes):
    (pf, _), (ob, _) = layouts['per_frame'], layouts['one_batch']
    a = convert(pf, str(tmp_path / 'a'), progress=False, chunk_bytes=chunk_bytes)
    b = convert(ob, str(tmp_path / 'b'), progress=False, chunk_bytes=chunk_bytes)
    assert _files(tmp_path / 'a') == _files(tmp_path / 'b')
    ref = tao_convert(json.load(open(ob)))
    assert sorted(_files(tmp_path / 'b')) == sorted(f'object_{o}.npy' for o in ref)
    for oid, arr in ref.items():
        assert np.load(tmp_path / 'b' / f'object_{oid}.npy').tobytes() == arr.tobytes()
    assert b['inputs'][0]['batches'] == 1 and a['inputs'][0]['batches'] == a['inputs'][0]['frames']
    assert b['inputs'][0]['batch_size_mismatches'] == 0 and not b['truncated']


def test_one_batch_layout_gives_the_same_labelled_dataset(layouts, tmp_path):
    (pf, info), (ob, _) = layouts['per_frame'], layouts['one_batch']
    labels = str(tmp_path / 'labels.csv')
    ground_truth_labels(info, labels)
    for name, path in (('a', pf), ('b', ob)):
        convert(path, str(tmp_path / name), labels=labels, val_ratio=0.3, progress=False, chunk_bytes=2048,
                spill_bytes=0)
    assert _files(tmp_path / 'a') == _files(tmp_path / 'b')
    assert sorted(_files(tmp_path / 'b')) == ['label_map.json', 'train_data.npy', 'train_label.pkl', 'val_data.npy',
                                              'val_label.pkl']


def test_reader_holds_o_chunk_of_text_whatever_the_layout(layouts):
    for name in ('one_batch', 'per_frame'):
        path, info = layouts[name]
        tracks, report, stats = read_tracks(path, ConvertOptions(chunk_bytes=4096))
        assert stats.frames == len(info['frame_ends']) and report.batches == (1 if name == 'one_batch' else
                                                                              stats.frames)
        assert report.peak_text_bytes < 4 * 4096 + 2 * _max_frame_bytes(info), name  # the documented bound
        assert report.peak_text_bytes * 10 < report.size
    assert read_tracks(layouts['one_batch'][0], ConvertOptions(chunk_bytes=4096))[1].streamed_batches == 1
    data, report = load_pose_json(layouts['one_batch'][0], chunk_bytes=2048)  # the segments' handler streams too
    assert data == json.load(open(layouts['one_batch'][0])) and report.streamed_batches == 1


def test_truncated_one_batch_file_converts_every_complete_frame(layouts, tmp_path):
    path, info = layouts['one_batch']
    text = open(path, 'rb').read()
    fn, end = info['frame_ends'][len(info['frame_ends']) * 2 // 3]
    cut = end + 700  # inside a pose array of the next frame
    cut_path = str(tmp_path / 'cut.json')
    open(cut_path, 'wb').write(text[:cut])
    data = json.loads(text)
    complete = [f for f, (_, e) in zip(data[0]['batches'], info['frame_ends']) if e <= cut]
    expected = tao_convert([{'num_frames_in_batch': len(complete), 'batches': complete}])
    for chunk_bytes in (1024, 1 << 20):
        s = convert(cut_path, str(tmp_path / f'out{chunk_bytes}'), progress=False, chunk_bytes=chunk_bytes)
        for oid, arr in expected.items():
            assert np.load(tmp_path / f'out{chunk_bytes}' / f'object_{oid}.npy').tobytes() == arr.tobytes()
        stop = s['stopped_at']
        assert stop['byte'] == end and stop['last_frame_num'] == fn and s['inputs'][0]['frames'] == len(complete)
        assert stop['line'] == text[:end].count(b'\n') + 1 and 'ends inside batch #0' in stop['reason']


# ---------------------------------------------------------------------------------------------- error positions
def _put_token(text: bytes, start_search: int, token: bytes):
    """Replace the first pose number after ``start_search`` by ``token``; returns (new text, byte of the token)."""
    i = text.index(b', ', text.index(b'"pose3d": [', start_search)) + 2
    j = text.index(b',', i)
    return text[:i] + token + text[j:], i


@pytest.mark.parametrize('token', [b'NaN', b'Infinity', b'-Infinity', b'1e999', b'-2.5e400'])
@pytest.mark.parametrize('layout,chunk_bytes,where', [
    ('per_frame', 1 << 20, 'batch #101'),  # batches smaller than a chunk are parsed whole
    ('per_frame', 1024, 'frame #0 of batch #101'),  # a batch larger than the text at hand is streamed
    ('one_batch', 1024, 'frame #101 of batch #0'),
    ('one_batch', 1 << 20, 'batch #0'),  # the 1.7 MB file fits in the first two chunks: the batch is complete
])
def test_non_finite_number_is_reported_where_it_is(layouts, tmp_path, token, layout, chunk_bytes, where):
    path, info = layouts[layout]
    text = open(path, 'rb').read()
    bad, at = _put_token(text, info['frame_ends'][100][1], token)
    line, col = bad[:at].count(b'\n') + 1, at - bad.rfind(b'\n', 0, at)
    src = str(tmp_path / 'bad.json')
    open(src, 'wb').write(bad)
    out = tmp_path / 'out'
    msg = (rf"{src}: non-finite number '{token.decode()}' at byte {at} \(line {line}, column {col}\), in {where} "
           r'\(starting at byte \d+\); DeepStream writes finite numbers only')
    with pytest.raises(ValueError, match=msg):
        convert(src, str(out), progress=False, chunk_bytes=chunk_bytes, spill_bytes=0)
    assert not out.exists()


@pytest.mark.parametrize('layout,chunk_bytes', [('per_frame', 4096), ('one_batch', 4096), ('one_batch', 1 << 20)])
def test_a_corrupt_middle_is_an_error_not_a_truncation(layouts, tmp_path, layout, chunk_bytes):
    path, info = layouts[layout]
    text = open(path, 'rb').read()
    i = text.index(b', ', text.index(b'"pose25d": [', info['frame_ends'][60][1])) + 4  # inside a number
    bad = text[:i] + b'"' + text[i + 1:]  # a stray quote: to a bracket scan, the rest of the file is one string
    with pytest.raises(json.JSONDecodeError) as err:
        json.loads(bad)
    at = err.value.pos
    src = str(tmp_path / 'quote.json')
    open(src, 'wb').write(bad)
    with pytest.raises(ValueError, match=rf"invalid JSON at byte {at} \(line \d+, column \d+\), in .*: Expecting"):
        convert(src, str(tmp_path / 'out'), progress=False, chunk_bytes=chunk_bytes)


def test_integer_beyond_64_bits_is_reported_where_it_is(layouts, tmp_path):
    path, info = layouts['one_batch']
    text = open(path, 'rb').read()
    bad, at = _put_token(text, info['frame_ends'][10][1], b'1' * 25)
    src = str(tmp_path / 'big.json')
    open(src, 'wb').write(bad)
    with pytest.raises(ValueError, match=rf"integer outside the 64-bit range '1{{25}}' at byte {at} "):
        convert(src, str(tmp_path / 'out'), progress=False, chunk_bytes=1024)


def test_non_finite_batch_key_of_a_streamed_batch(layouts, tmp_path):
    path, info = layouts['one_batch']
    text = open(path, 'rb').read()
    at = text.index(b'"num_frames_in_batch": ') + len(b'"num_frames_in_batch": ')
    bad = text[:at] + b'NaN' + text[text.index(b',', at):]
    src = str(tmp_path / 'head.json')
    open(src, 'wb').write(bad)
    with pytest.raises(ValueError, match=rf"non-finite number 'NaN' at byte {at} \(line 2, column 26\), in batch #0"):
        convert(src, str(tmp_path / 'out'), progress=False, chunk_bytes=1024)


@pytest.mark.parametrize('edit', [lambda t, i: t[:i] + t[i + 1:],  # "}, {" -> "} {": the error is at the "{"
                                  lambda t, i: t[:i] + b',' + t[i:]])  # "},, {": at the second ","
@pytest.mark.parametrize('chunk_bytes', [1024, 1500, 4096])
def test_separators_between_streamed_frames_are_checked(layouts, tmp_path, edit, chunk_bytes):
    path, info = layouts['one_batch']
    text = open(path, 'rb').read()
    i = info['frame_ends'][150][1]  # the "," after frame 150
    assert text[i:i + 1] == b','
    bad = edit(text, i)
    src = str(tmp_path / 'sep.json')
    open(src, 'wb').write(bad)
    line, col = bad[:i + 1].count(b'\n') + 1, i + 1 - bad.rfind(b'\n', 0, i + 1)
    with pytest.raises(ValueError, match=rf'invalid JSON at byte {i + 1} \(line {line}, column {col}\)'):
        convert(src, str(tmp_path / 'out'), progress=False, chunk_bytes=chunk_bytes)


@pytest.mark.parametrize('raw,at', [(b'[{"num_frames_in_batch": 0, "batches": []},]', 42), (b'[,]', 1),
                                    (b'[{"num_frames_in_batch": 0, "batches": [],}]', 42)])
def test_trailing_and_extra_commas(tmp_path, raw, at):
    src = str(tmp_path / 'c.json')
    open(src, 'wb').write(raw)
    with pytest.raises(ValueError, match=rf'invalid JSON at byte {at} \(line 1, column {at + 1}\)'):
        convert(src, str(tmp_path / 'out'), progress=False)


# ---------------------------------------------------------------------------------------------- temporary files
def test_features_spill_to_temporary_files_that_are_removed(layouts, tmp_path, monkeypatch):
    path, _ = layouts['one_batch']
    base = convert(path, str(tmp_path / 'mem'), progress=False)
    seen = []
    write_object = converter._write_object

    def spy(out, t, bounds, opts):
        seen.append((type(t.features), type(t.frame_nums),
                     [n for n in os.listdir(tmp_path / 'disk') if n.startswith(TMP_PREFIX)]))
        write_object(out, t, bounds, opts)

    monkeypatch.setattr(converter, '_write_object', spy)
    monkeypatch.setattr(converter, 'WINDOW_BLOCK_BYTES', 1)  # one window per block: the streamed .npy writer
    s = convert(path, str(tmp_path / 'disk'), progress=False, spill_bytes=0, chunk_bytes=2048)
    assert seen and all(f is DiskRows and n is DiskRows and len(tmp) == 1 for f, n, tmp in seen)
    assert _files(tmp_path / 'mem') == _files(tmp_path / 'disk')  # nothing temporary left, same bytes
    assert s['windows'] == base['windows']


def test_temporary_files_are_removed_after_an_error(layouts, tmp_path, monkeypatch):
    path, info = layouts['per_frame']
    rules = str(tmp_path / 'labels.csv')
    open(rules, 'w').write('file,label\nscene.json,walking\nscene.json,jumping\n')  # conflicting: fails after reading
    out = tmp_path / 'new'
    with pytest.raises(ValueError, match="says 'walking' but"):
        convert(path, str(out), labels=rules, progress=False, spill_bytes=0)
    assert not out.exists()  # the folder made for the temporary files is gone too
    os.makedirs(tmp_path / 'old')

    def crash(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(converter, '_write_object', crash)
    with pytest.raises(KeyboardInterrupt):
        convert(path, str(tmp_path / 'old'), progress=False, spill_bytes=0)
    assert os.listdir(tmp_path / 'old') == []


def test_leftovers_of_a_killed_run_are_removed_at_the_next_start(layouts, tmp_path):
    dead = subprocess.run([sys.executable, '-c', 'import os; print(os.getpid())'], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    out = tmp_path / 'out'
    stale = out / f'{TMP_PREFIX}{dead_pid}-0123456789abcdef'
    live = out / f'{TMP_PREFIX}{os.getppid()}-fedcba9876543210'  # a running process: another conversion
    for d in (stale, live):
        os.makedirs(d)
        (d / '0.f32').write_bytes(b'\0' * 64)
    convert(layouts['per_frame'][0], str(out), progress=False)
    assert not stale.exists() and live.exists()
    assert not any(n.startswith(TMP_PREFIX) for n in os.listdir(out) if n != live.name)
