"""tools/misc/fuse_scores.py: multi-stream score fusion of tools/test.py --dump files."""
import json
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest

from posecls.evaluation.fuse_scores import fuse, load_dump
from posecls.tools.fuse_scores import main

from conftest import REPO, shared_dataset


def write_dump(path, scores, labels, names=None):
    scores = np.asarray(scores, dtype=np.float32)
    names = np.array([f's{i}' for i in range(len(scores))] if names is None else names)
    np.savez(path, logits=np.log(np.maximum(scores, 1e-12)), scores=scores, labels=np.asarray(labels), names=names)
    return str(path)


def test_mmaction2_joint_bone_fusion_reproduces_the_published_numbers(tmp_path):
    """mmaction2's demo/fuse score dumps (60 NTU-120 samples): joint 91.67 / bone 93.33 / fused 93.33 top-1."""
    z = np.load(osp.join(shared_dataset('peer_samples'), 'mmaction2_demo_fuse_scores.npz'))
    joint = write_dump(tmp_path / 'joint.npz', z['joint'], z['label'])
    bone = write_dump(tmp_path / 'bone.npz', z['bone'], z['label'])
    report = main([joint, bone, '--out', str(tmp_path / 'fused.npz')])
    assert report[joint]['top1'] == pytest.approx(55 / 60) and report[joint]['top5'] == pytest.approx(59 / 60)
    assert report[bone]['top1'] == pytest.approx(56 / 60)
    assert report['fused']['top1'] == pytest.approx(56 / 60) and report['fused']['top5'] == pytest.approx(59 / 60)
    assert report['fused']['mean_class'] == pytest.approx(56 / 60)  # one sample per class
    fused = load_dump(str(tmp_path / 'fused.npz'))
    np.testing.assert_allclose(fused['scores'], (z['joint'] + z['bone']) / 2, rtol=1e-5)


def test_weights_matter_and_samples_are_matched_by_name(tmp_path):
    a = write_dump(tmp_path / 'a.npz', [[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]], [0, 1, 1])
    # the same samples in another order; b is right where a is wrong
    b = write_dump(tmp_path / 'b.npz', [[0.1, 0.9], [0.7, 0.3], [0.45, 0.55]], [1, 0, 1], names=['s2', 's0', 's1'])
    assert main([a, b])['fused']['top1'] == pytest.approx(2 / 3)
    assert main([a, b, '--weights', '1', '3'])['fused']['top1'] == pytest.approx(1.0)
    assert main(['--weights', '1', '3', a, b])['fused']['top1'] == pytest.approx(1.0)  # weights first
    with pytest.raises(SystemExit):
        main(['--weights', a, b])  # no numbers
    with pytest.raises(SystemExit):
        main(['--weights', '1'])  # no dumps
    fused = fuse([load_dump(a), load_dump(b)], [1, 1])
    np.testing.assert_allclose(fused, [[1.6, 0.4], [1.05, 0.95], [0.3, 1.7]], rtol=1e-6)


def test_json_dumps_and_logit_fusion(tmp_path):
    rows = [dict(sample_name=f's{i}', gt_label=i % 2, pred_label=0, pred_logits=[1.0, 2.0 * (i % 2)],
                 pred_score=[0.5, 0.5]) for i in range(4)]
    path = tmp_path / 'a.json'
    path.write_text(json.dumps(rows))
    report = main([str(path), '--use', 'logits', '--out', str(tmp_path / 'f.npz')])
    assert report['fused']['top1'] == pytest.approx(1.0)
    with np.load(tmp_path / 'f.npz') as z:
        np.testing.assert_allclose(z['scores'].sum(axis=1), 1, rtol=1e-6)


def test_inconsistent_dumps_are_refused_with_the_file_named(tmp_path):
    a = write_dump(tmp_path / 'a.npz', [[0.9, 0.1], [0.6, 0.4]], [0, 1])
    other_label = write_dump(tmp_path / 'b.npz', [[0.9, 0.1], [0.6, 0.4]], [0, 0])
    with pytest.raises(ValueError, match=r"b.npz: label of sample 's1' is 0, but .*a.npz says 1"):
        main([a, other_label])
    other_names = write_dump(tmp_path / 'c.npz', [[0.9, 0.1], [0.6, 0.4]], [0, 1], names=['s0', 'x'])
    with pytest.raises(ValueError, match=r"c.npz: sample 'x' is not in"):
        main([a, other_names])
    fewer = write_dump(tmp_path / 'd.npz', [[0.9, 0.1]], [0])
    with pytest.raises(ValueError, match='d.npz: 1 samples x 2 classes'):
        main([a, fewer])
    with pytest.raises(ValueError, match='2 weights for 1 dumps'):
        main([a, '--weights', '1', '2'])
    pkl = tmp_path / 'e.pkl'
    pkl.write_bytes(b'\x80\x04N.')
    with pytest.raises(ValueError, match='.pkl dumps are not read'):
        main([str(pkl)])
    with pytest.raises(FileNotFoundError, match='score dump not found'):
        main([str(tmp_path / 'missing.npz')])


def test_command_line_wrapper(tmp_path):
    a = write_dump(tmp_path / 'a.npz', [[0.9, 0.1], [0.4, 0.6]], [0, 1])
    out = subprocess.run([sys.executable, 'tools/misc/fuse_scores.py', a, a], cwd=REPO, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert 'fused' in out.stdout and 'top1 100.000' in out.stdout
