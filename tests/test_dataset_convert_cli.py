"""tools/dataset_convert.py and the synthetic DeepStream JSON generator."""
import json
import os
import os.path as osp
import re
import subprocess
import sys

import numpy as np
import pytest

from posecls.datasets.deepstream import convert, generate_deepstream_json, ground_truth_labels
from posecls.tools.dataset_convert import main

from tao_dataset_convert_ref import tao_convert

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


@pytest.fixture(scope='module')
def scene(tmp_path_factory):
    d = tmp_path_factory.mktemp('cli')
    path = str(d / 'walk.json')
    info = generate_deepstream_json(path, num_frames=260, num_tracks=3, seed=31)
    return d, path, info


def test_cli_matches_convert_and_writes_summary(scene, tmp_path, capsys):
    d, path, _ = scene
    summary = main(['--data', path, '--results-dir', str(tmp_path / 'cli'), '--pose-type', '25dbp',
                    '--input-width', '1280', '--input-height', '720', '--sequence-overlap', '0.25',
                    '--summary-json', str(tmp_path / 'summary.json'), '--no-progress'])
    out = capsys.readouterr().out
    assert 'Number of objects: 3' in out and 'frames skipped (object appearances in no window)' in out
    ref = tao_convert(path, pose_type='25dbp', input_width=1280, input_height=720, sequence_overlap=0.25)
    for oid, arr in ref.items():
        assert np.load(tmp_path / 'cli' / f'object_{oid}.npy').tobytes() == arr.tobytes()
    saved = json.load(open(tmp_path / 'summary.json'))
    assert saved['windows'] == summary['windows'] == sum(len(a) for a in ref.values())
    assert saved['options']['sequence_overlap'] == 0.25


def test_cli_labelled_with_val_split(scene, tmp_path, capsys):
    d, path, info = scene
    labels = ground_truth_labels(info, str(tmp_path / 'labels.csv'))
    assert labels.startswith('file,object_id,start_frame,end_frame,label\n')
    main(['--data', path, '--results-dir', str(tmp_path / 'ds'), '--labels', str(tmp_path / 'labels.csv'),
          '--val-ratio', '0.4', '--quiet'])
    assert sorted(os.listdir(tmp_path / 'ds')) == ['label_map.json', 'train_data.npy', 'train_label.pkl',
                                                  'val_data.npy', 'val_label.pkl']
    assert 'train:' in capsys.readouterr().out
    with pytest.raises(SystemExit, match='need --labels'):
        main(['--data', path, '--results-dir', str(tmp_path / 'x'), '--val-ratio', '0.2'])


def test_wrapper_script_runs(scene, tmp_path):
    d, path, _ = scene
    r = subprocess.run([sys.executable, osp.join(REPO, 'tools', 'dataset_convert.py'), '--data', path,
                        '--results-dir', str(tmp_path), '--quiet'], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert 'dataset_convert (3dbp): 1 input file(s), 3 object(s)' in r.stdout
    assert len([f for f in os.listdir(tmp_path) if f.startswith('object_')]) >= 1


def test_generator_is_deterministic_and_deepstream_shaped(scene, tmp_path):
    d, path, info = scene
    again = generate_deepstream_json(str(tmp_path / 'again.json'), num_frames=260, num_tracks=3, seed=31)
    assert open(path, 'rb').read() == open(again['path'], 'rb').read()
    other = generate_deepstream_json(str(tmp_path / 'other.json'), num_frames=260, num_tracks=3, seed=32)
    assert open(path, 'rb').read() != open(other['path'], 'rb').read()
    text = open(path).read()
    assert text.startswith('[{\n  "num_frames_in_batch": 1,\n  "batches": [{\n    "batch_id": 0,\n    "frame_num": ')
    assert text.endswith('}]\n  }]\n}]\n')
    numbers = re.findall(r'"pose(?:25d|3d)": \[([^\]]*)\]', text)
    assert numbers and all(re.fullmatch(r'-?\d+\.\d{6}', v) for arr in numbers[:50] for v in arr.split(', '))
    data = json.loads(text)
    objs = [o for b in data for f in b['batches'] for o in f['objects']]
    assert all(b['num_frames_in_batch'] == len(b['batches']) for b in data)
    assert all(len(o['pose3d']) == len(o['pose25d']) == 136 for o in objs)
    conf = np.array([o['pose3d'][3::4] for o in objs])
    assert (conf == 0).any() and (conf > 0).mean() > 0.8  # some occluded joints, most visible
    assert conf.tolist() == [o['pose25d'][3::4] for o in objs]
    firsts = [t['frame_nums'][0] for t in info['tracks']]
    lasts = [t['frame_nums'][-1] for t in info['tracks']]
    assert max(firsts) > 0 and min(lasts) < 259  # tracks enter late and leave early


def test_generator_truncation_and_reappearance(tmp_path):
    full = generate_deepstream_json(str(tmp_path / 'full.json'), num_frames=150, num_tracks=2, seed=3,
                                    reappear_gap=80)
    cut = generate_deepstream_json(str(tmp_path / 'cut.json'), num_frames=150, num_tracks=2, seed=3, reappear_gap=80,
                                   truncate_at=0.5)
    assert cut['bytes'] == os.path.getsize(cut['path']) == int(full['bytes'] * 0.5) == cut['truncated_at']
    assert open(cut['path'], 'rb').read() == open(full['path'], 'rb').read()[:cut['bytes']]
    assert 0 < cut['frames'] < full['frames']
    fr = np.array(full['tracks'][0]['frame_nums'])
    assert np.diff(fr).max() > 80  # the first track leaves and comes back with the same id
    s = convert(cut['path'], str(tmp_path / 'out'), progress=False)
    assert s['truncated'] and s['inputs'][0]['frames'] == cut['frames']


def test_progress_bar_goes_to_stderr(scene, tmp_path, capfd):
    d, path, _ = scene
    main(['--data', path, '--results-dir', str(tmp_path), '--progress', '--quiet'])
    out, err = capfd.readouterr()
    assert 'walk.json' in err and 'MB' in err  # bar label and bytes done
    assert 'walk.json' not in out.split('\n', 1)[0]
