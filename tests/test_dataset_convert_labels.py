"""Labelled dataset building: labels CSV -> train/val data + label files, label_map validation, splits."""
import json
import os.path as osp

import numpy as np
import pytest

from posecls.datasets import PoseDataset, load_label_file
from posecls.datasets.deepstream import convert, generate_deepstream_json, ground_truth_labels

from tao_dataset_convert_ref import tao_sequences, tao_windows


@pytest.fixture(scope='module')
def labelled_scene(tmp_path_factory):
    d = tmp_path_factory.mktemp('lab')
    a, b = str(d / 'cam_a.json'), str(d / 'cam_b.json')
    ia = generate_deepstream_json(a, num_frames=420, num_tracks=4, seed=21)
    ib = generate_deepstream_json(b, num_frames=300, num_tracks=3, seed=22)
    csv_path = str(d / 'labels.csv')
    text = ground_truth_labels(ia) + ground_truth_labels(ib).split('\n', 1)[1]
    with open(csv_path, 'w') as f:
        f.write(text)
    return d, [a, b], [ia, ib], csv_path


def expected_windows(path, info):
    """(sample name, action or None, window array) per window, from the literal TAO loops and the schedule."""
    with open(path) as f:
        data = json.load(f)
    seqs, frames = tao_sequences(data)
    sched = {t['object_id']: t['actions'] for t in info['tracks']}
    out = []
    for oid, seq in seqs.items():
        arr = tao_windows(seq, '3dbp', 34, 300, 10, 100, 0.5)
        if arr is None:
            continue
        fr = frames[oid]
        for k, start in enumerate(range(0, len(fr) - 10 + 1, 50)):
            lo, hi = fr[start], fr[min(start + 100, len(fr)) - 1]
            hits = {a for s, e, a in sched[oid] if s <= lo and hi <= e}
            out.append((f'{osp.basename(path)}:object_{oid}:{lo}-{hi}', hits.pop() if len(hits) == 1 else None,
                        arr[k]))
    return out


def test_labelled_dataset_matches_tao_windows_and_schedule(labelled_scene, tmp_path):
    d, files, infos, csv_path = labelled_scene
    s = convert(files, str(tmp_path), labels=csv_path, progress=False)
    exp = [w for f, i in zip(files, infos) for w in expected_windows(f, i)]
    labelled = [w for w in exp if w[1] is not None]
    classes = json.load(open(tmp_path / 'label_map.json'))
    names, labels = load_label_file(str(tmp_path / 'train_label.pkl'))
    data = np.load(tmp_path / 'train_data.npy')
    assert names == [w[0] for w in labelled]
    assert labels == [classes[w[1]] for w in labelled]
    assert data.shape == (len(labelled), 3, 300, 34, 1)
    for row, w in zip(data, labelled):
        assert row.tobytes() == w[2].tobytes()
    assert s['windows_unlabelled'] == len(exp) - len(labelled) > 0  # windows across an action change are left out
    assert s['splits']['train']['windows'] == len(labelled)
    assert not any(osp.basename(p).startswith('object_') for p in s['outputs'])
    ds = PoseDataset(str(tmp_path / 'train_data.npy'), str(tmp_path / 'train_label.pkl'),
                     label_map=str(tmp_path / 'label_map.json'))
    assert len(ds) == len(labelled) and ds.classes == list(classes)


def test_val_ratio_keeps_tracks_whole_and_is_seeded(labelled_scene, tmp_path):
    d, files, infos, csv_path = labelled_scene
    s1 = convert(files, str(tmp_path / 'r1'), labels=csv_path, val_ratio=0.3, seed=1, progress=False)
    s2 = convert(files, str(tmp_path / 'r2'), labels=csv_path, val_ratio=0.3, seed=1, progress=False)
    tr, tl = load_label_file(str(tmp_path / 'r1' / 'train_label.pkl'))
    vn, vl = load_label_file(str(tmp_path / 'r1' / 'val_label.pkl'))
    assert vn and tr
    group = lambda n, lb: (n.rsplit(':', 1)[0], lb)  # noqa: E731  (file:object, label)
    assert not {group(n, lb) for n, lb in zip(tr, tl)} & {group(n, lb) for n, lb in zip(vn, vl)}
    assert len(np.load(tmp_path / 'r1' / 'val_data.npy')) == len(vn) == s1['splits']['val']['windows']
    for name in ('train_data.npy', 'val_data.npy', 'train_label.pkl', 'val_label.pkl'):
        assert open(tmp_path / 'r1' / name, 'rb').read() == open(tmp_path / 'r2' / name, 'rb').read()
    assert s1['splits'] == s2['splits']


def test_val_files_split(labelled_scene, tmp_path):
    d, files, infos, csv_path = labelled_scene
    convert(files, str(tmp_path), labels=csv_path, val_files=['cam_b.json'], progress=False)
    tn, _ = load_label_file(str(tmp_path / 'train_label.pkl'))
    vn, _ = load_label_file(str(tmp_path / 'val_label.pkl'))
    assert tn and vn and all(n.startswith('cam_a.json:') for n in tn) and all(n.startswith('cam_b.json:') for n in vn)
    with pytest.raises(ValueError, match=r"val_files: \['cam_c.json'\] are not among the inputs"):
        convert(files, str(tmp_path / 'x'), labels=csv_path, val_files=['cam_c.json'])


def test_label_map_is_used_and_validated(labelled_scene, tmp_path):
    d, files, infos, csv_path = labelled_scene
    lm = {'jumping': 0, 'walking': 1, 'standing': 2, 'sitting': 3, 'getting_up': 4, 'sitting_down': 5}
    lm_path = tmp_path / 'lm.json'
    lm_path.write_text(json.dumps(lm))
    convert(files, str(tmp_path / 'ok'), labels=csv_path, label_map=str(lm_path), progress=False)
    names, labels = load_label_file(str(tmp_path / 'ok' / 'train_label.pkl'))
    exp = {w[0]: w[1] for f, i in zip(files, infos) for w in expected_windows(f, i) if w[1]}
    assert labels == [lm[exp[n]] for n in names]
    assert json.load(open(tmp_path / 'ok' / 'label_map.json')) == lm
    out = tmp_path / 'bad'
    with pytest.raises(ValueError, match=r"labels.csv line \d+: label '\w+' is not in dataset_convert.label_map"):
        convert(files, str(out), labels=csv_path, label_map={'walking': 0})
    with pytest.raises(ValueError, match=r'class ids must be 0..5 without gaps'):
        convert(files, str(out), labels=csv_path, label_map={**lm, 'jumping': 7})
    assert not out.exists()


@pytest.mark.parametrize('rows,match', [
    ('file,label\ncam_a.json,walking\ncam_a.json,jumping\n',
     r"window of frames \d+-\d+: .*labels.csv line 2 says 'walking' but .*labels.csv line 3 says 'jumping'"),
    ('file,label\ncam_z.json,walking\n', r"labels.csv line 2: file 'cam_z.json' is not one of the inputs"),
    ('file,action\ncam_a.json,walking\n', r"unknown column\(s\) \['action'\]"),
    ('object_id,start_frame,label\n3,ten,walking\n', r"labels.csv line 2: start_frame='ten' is not an integer"),
    ('start_frame,end_frame,label\n50,10,walking\n', r'labels.csv line 2: start_frame 50 is after end_frame 10'),
    ('file,label\ncam_a.json,\n', r'labels.csv line 2: empty label'),
    ('file,label\n', r'labels.csv: no label rows'),
    ('object_id,label\n424242,walking\n', r'no window is labelled'),
])
def test_label_rule_errors(labelled_scene, tmp_path, rows, match):
    d, files, infos, _ = labelled_scene
    p = tmp_path / 'labels.csv'
    p.write_text(rows)
    out = tmp_path / 'out'
    with pytest.raises(ValueError, match=match):
        convert(files, str(out), labels=str(p), progress=False)
    assert not out.exists()


def test_rule_list_in_spec_wildcards_and_unused_rule_warning(labelled_scene, tmp_path):
    d, files, infos, _ = labelled_scene
    rules = [{'file': 'cam_a.json', 'label': 'busy'}, {'file': '*', 'object_id': '999999', 'label': 'ghost'}]
    s = convert(files, str(tmp_path), labels=rules, progress=False)
    names, labels = load_label_file(str(tmp_path / 'train_label.pkl'))
    assert names and all(n.startswith('cam_a.json:') for n in names) and set(labels) == {0}
    assert any("dataset_convert.labels[1]: no window lies inside this rule (label 'ghost')" in w
               for w in s['warnings'])
    assert s['label_map'] == {'busy': 0, 'ghost': 1}
