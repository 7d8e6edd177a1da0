"""tools/train.py, tools/test.py, tools/inference.py and the inference API, end to end on tiny data."""
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest

from posecls.apis import format_ranked_line, inference_recognizer, init_recognizer
from posecls.tools import inference as inference_tool
from posecls.tools import test as test_tool
from posecls.tools import train as train_tool
from posecls.utils.checkpoint import ClassCountError

from conftest import LABEL_MAP, REPO, tiny_config


@pytest.fixture(scope='module')
def trained(tiny_data_dir, tmp_path_factory):
    """A tiny model trained once for this module: (config file, checkpoint, work dir)."""
    root = tmp_path_factory.mktemp('trained')
    cfg = tiny_config(tiny_data_dir, str(root / 'work'))
    cfg_file = str(root / 'tiny.py')
    cfg.dump(cfg_file)
    train_tool.main([cfg_file])
    return cfg_file, osp.join(str(root / 'work'), 'pc_model_latest.pth'), str(root)


def test_test_tool_prints_table_and_writes_report(trained, capsys, tmp_path):
    cfg_file, ckpt, _ = trained
    dump = str(tmp_path / 'preds.npz')
    metrics = test_tool.main([cfg_file, ckpt, '--work-dir', str(tmp_path / 'eval'), '--dump', dump])
    out = capsys.readouterr().out
    assert 'Class accuracy: sitting_down' in out and 'Total accuracy' in out and 'Top-5 accuracy' in out
    rec = json.load(open(metrics['report']['json']))
    assert rec['total_accuracy'] == pytest.approx(100 * metrics['acc/top1'])
    assert sum(map(sum, rec['confusion_matrix'])) == 6
    import csv

    from PIL import Image
    rows = list(csv.reader(open(metrics['report']['csv'])))
    assert rows[0] == ['class'] + list(LABEL_MAP) and [r[0] for r in rows[1:]] == list(LABEL_MAP)
    assert [[int(v) for v in r[1:]] for r in rows[1:]] == rec['confusion_matrix']
    img = np.asarray(Image.open(metrics['report']['png']).convert('L'))
    assert min(img.shape) >= 300 and img.std() > 10  # a drawn heat map, not a blank image
    d = np.load(dump)
    assert d['logits'].shape == (6, 6) and list(d['labels']) == [0, 1, 2, 3, 4, 5]
    np.testing.assert_allclose(d['scores'].sum(1), 1.0, rtol=1e-5)


@pytest.mark.parametrize('suffix', ['.json', '.pkl'])
def test_dump_formats(trained, tmp_path, suffix):
    cfg_file, ckpt, _ = trained
    dump = str(tmp_path / f'preds{suffix}')
    test_tool.main([cfg_file, ckpt, '--work-dir', str(tmp_path / 'eval'), '--dump', dump])
    if suffix == '.json':
        rows = json.load(open(dump))
        assert len(rows) == 6 and set(rows[0]) >= {'sample_name', 'gt_label', 'pred_label', 'pred_logits'}
    else:
        import pickle
        with open(dump, 'rb') as f:  # written by this test: trusted
            rows = pickle.load(f)
    assert len(rows) == 6 and sorted(int(r['gt_label']) for r in rows) == [0, 1, 2, 3, 4, 5]
    assert all(len(r['pred_score']) == 6 and abs(sum(r['pred_score']) - 1) < 1e-5 for r in rows)
    assert all(int(r['pred_label']) == int(np.argmax(r['pred_score'])) for r in rows)


def test_inference_tool_and_api_agree(trained, tiny_data_dir, tmp_path):
    cfg_file, ckpt, _ = trained
    data = osp.join(tiny_data_dir, 'val_data.npy')
    out, scores = str(tmp_path / 'pred.txt'), str(tmp_path / 'scores.txt')
    names = inference_tool.main([cfg_file, ckpt, data, '--out', out, '--scores-out', scores, '--batch-size', '4'])
    lines = open(out).read().splitlines()
    assert lines == names and len(lines) == 6 and set(lines) <= set(LABEL_MAP)
    model = init_recognizer(cfg_file, ckpt)
    logits = inference_recognizer(model, np.load(data))
    assert logits.shape == (6, 6)
    classes = list(LABEL_MAP)
    assert lines == [classes[i] for i in logits.argmax(1)]
    score_lines = open(scores).read().splitlines()
    assert score_lines[2] == format_ranked_line(2, logits[2], classes)
    first = score_lines[0].split(', ')
    assert first[0] == '0' and len(first) == 7
    values = [float(p.split('(')[0]) for p in first[1:]]
    assert values == sorted(values, reverse=True)
    single = inference_recognizer(model, np.load(data)[3])  # (C, T, V, M) input
    np.testing.assert_allclose(single[0], logits[3], rtol=1e-5, atol=1e-5)
    probs = inference_recognizer(model, data, return_probs=True)  # path input, memory-mapped
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-5)


def test_ranked_line_format():
    line = format_ranked_line(7, np.array([0.5, 2.25, -1.0]), ['a', 'b', 'c'])
    assert line == '7, 2.2500(1)=b, 0.5000(0)=a, -1.0000(2)=c'


def test_init_recognizer_reads_classes_and_refuses_another_class_count(trained, tmp_path):
    cfg_file, ckpt, _ = trained
    model = init_recognizer(cfg_file, ckpt)
    assert model.dataset_meta['classes'] == list(LABEL_MAP)
    assert not model.training
    with pytest.raises(ClassCountError, match='was trained for 6 classes but the config has 3'):
        init_recognizer(cfg_file, ckpt, cfg_options={'model.cls_head.num_classes': 3})
    with pytest.raises(ValueError, match=r'\(C, T, V, M\) or \(N, C, T, V, M\)'):
        inference_recognizer(model, np.zeros((3, 4)))


def test_tensorboard_backend_by_config(tiny_cfg):
    pytest.importorskip('tensorboard')
    from posecls.tools.common import build_runner
    tiny_cfg.train_cfg.max_epochs = 1
    tiny_cfg.visualizer.vis_backends = [dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')]
    runner = build_runner(tiny_cfg)
    runner.train()
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    events = [root for root, _, files in os.walk(tiny_cfg.work_dir) for f in files if f.startswith('events.out')]
    assert len(events) == 1
    acc = EventAccumulator(events[0])
    acc.Reload()
    tags = acc.Tags()['scalars']
    assert {'loss', 'lr', 'acc/top1'} <= set(tags)
    assert len(acc.Scalars('acc/top1')) == 1 and 0.0 <= acc.Scalars('acc/top1')[0].value <= 1.0


def test_tools_scripts_run_as_documented(trained, tiny_data_dir, tmp_path):
    """The thin tools/*.py wrappers work from another working directory."""
    cfg_file, ckpt, _ = trained
    out = str(tmp_path / 'p.txt')
    r = subprocess.run([sys.executable, osp.join(REPO, 'tools', 'inference.py'), cfg_file, ckpt,
                        osp.join(tiny_data_dir, 'val_data.npy'), '--out', out], cwd=str(tmp_path),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert len(open(out).read().splitlines()) == 6
