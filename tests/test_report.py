"""posecls report: one self-contained HTML page about a trained run, loaded and played in a real headless Chromium.

The run is a tiny ST-GCN trained for 2 epochs on a 7-joint skeleton layout registered in this file (the sample
data's pelvis, neck, nose, wrists and ankles), so the report is checked on a layout that is not built in.
"""
import json
import os
import os.path as osp
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from browser import CHROMIUM, Chromium

from posecls.evaluation.functional import confusion_matrix, most_confused_pairs, precision_recall_f1
from posecls.graphs import SkeletonLayout, get_layout
from posecls.registry import GRAPHS
from posecls.report.animations import skeleton_animation

from conftest import REPO, tiny_config

LAYOUT = 'report_test_stick_figure'
#: the joints of the NVIDIA sample data this layout keeps: pelvis, neck, nose, wrists, ankles
NVIDIA_JOINTS = [0, 6, 15, 24, 25, 7, 8]


@GRAPHS.register_module(name=LAYOUT, force=True)
class StickFigure(SkeletonLayout):
    """A user's layout, registered by this test file only."""

    num_node = 7
    edges = [(0, 1), (1, 2), (1, 3), (1, 4), (0, 5), (0, 6)]
    center = 0
    joint_names = ['pelvis', 'neck', 'nose', 'left_wrist', 'right_wrist', 'left_ankle', 'right_ankle']


def _needs_chromium() -> None:
    if CHROMIUM is None:
        pytest.skip('chromium not installed (apt-get install chromium; .ci/run installs it): the report is only '
                    'checked in a real browser')


@pytest.fixture(scope='module')
def stick_run(tiny_data_dir, tmp_path_factory):
    """dict(work_dir, cfg): 2 epochs of a 4-channel ST-GCN on the 7-joint layout (a few seconds)."""
    from posecls.tools.common import build_runner

    root = tmp_path_factory.mktemp('report_run')
    data = root / 'data'
    data.mkdir()
    for split in ('train', 'val'):
        x = np.load(osp.join(tiny_data_dir, f'{split}_data.npy'))
        np.save(data / f'{split}_data.npy', np.ascontiguousarray(x[:, :, :, NVIDIA_JOINTS, :]))
        shutil.copy(osp.join(tiny_data_dir, f'{split}_label.pkl'), data / f'{split}_label.pkl')
    cfg = tiny_config(str(data), str(root / 'work'))
    cfg.model.backbone.graph_cfg.layout = LAYOUT
    for split in ('train', 'val', 'test'):
        cfg[f'{split}_dataloader'].dataset.num_joints = 7
    build_runner(cfg).train()
    return dict(work_dir=str(root / 'work'), cfg=cfg, data=str(data))


def _tags(html: str) -> list:
    """(tag, attributes) of every element of the page (script bodies are text, not elements)."""
    from html.parser import HTMLParser

    class Tags(HTMLParser):
        def __init__(self):
            super().__init__()
            self.tags = []

        def handle_starttag(self, tag, attrs):
            self.tags.append((tag, dict(attrs)))

    parser = Tags()
    parser.feed(html)
    return parser.tags


def _plot_divs(html: str) -> list:
    return re.findall(r'<div id="((?:fig|anim)-[\w-]+)" class="plotly-graph-div"', html)


def test_report_of_a_user_layout_run_plays_in_chromium(stick_run, tmp_path, capsys):
    _needs_chromium()
    from posecls.report.collect import load_predictions
    from posecls.tao.cli import main

    work_dir = stick_run['work_dir']
    out = str(tmp_path / 'page' / 'report.html')
    assert main(['report', work_dir, '--out', out, '--num-samples', '3']) == 0
    printed = capsys.readouterr().out
    assert f'Report written to {out}' in printed and 'Evaluating' in printed  # no evaluation existed: it ran one

    # the evaluation is the one driver's, in the work dir; the page's tables are its numbers
    eval_dirs = [d for d, _, files in os.walk(osp.join(work_dir, 'report', 'eval')) if 'metrics.json' in files]
    assert len(eval_dirs) == 1
    with open(osp.join(eval_dirs[0], 'metrics.json')) as f:
        metrics = json.load(f)
    pred = load_predictions(osp.join(work_dir, 'report', 'eval', 'predictions.npz'))
    cm = np.asarray(metrics['confusion_matrix'])
    assert np.array_equal(confusion_matrix(pred['labels'], pred['preds'], 6), cm)
    n_wrong = int((pred['preds'] != pred['labels']).sum())
    assert n_wrong >= 1  # the 2-epoch model of seed 1234 gets most of the 6 validation samples wrong

    html = open(out).read()
    animations = min(3, n_wrong)
    # self-contained: no element loads a script, style, image or frame (the browser below sees no request either)
    tags = _tags(html)
    assert [t for t, attrs in tags if {'src', 'href'} & set(attrs) and not attrs.get('href', '').startswith('#')
            ] == []
    assert sum(t == 'script' for t, _ in tags) >= 3 + animations  # plotly.js, the data, one per figure: inline
    # the model card: the user layout, the parameter count of the model, the data sizes
    from posecls.apis.inference import init_recognizer
    params = sum(p.numel() for p in init_recognizer(stick_run['cfg']).parameters())
    assert f'{LAYOUT} (7 joints, 6 edges, centre joint 0)' in html and f'{params:,}' in html
    assert f'drawn with the edges of layout {LAYOUT} (7 joints)' in html
    assert '12 sequences, (N, C, T, V, M) = (12, 3, 32, 7, 1)' in html and 'GFLOPs' in html
    stats = precision_recall_f1(cm)
    f1_cells = [f'{100 * v:.2f}' for v in stats['f1'] if not np.isnan(v)]
    assert all(f'<td class="num">{c}</td>' in html for c in f1_cells)
    pairs = most_confused_pairs(cm, 10)
    assert pairs and all(n == cm[i, j] for i, j, n in pairs)
    assert _plot_divs(html) == ['fig-training', 'fig-confusion', 'fig-per-class'] + [
        f'anim-{k}' for k in range(animations)]

    with Chromium(width=1280, height=900) as browser:
        browser.open('file://' + osp.abspath(out), settle=1.0)
        assert browser.errors() == []
        assert all(u.startswith(('file://', 'data:')) for u in browser.requests()), browser.requests()
        # every figure was drawn by plotly.js
        assert browser.evaluate('document.querySelectorAll(".js-plotly-plot").length') == 3 + animations
        assert browser.evaluate('window.poseclsReport.animations.length') == animations
        shot = browser.screenshot()
        assert shot.std() > 0.1 and len(np.unique((shot[::8, ::8] * 255).astype(np.uint8).reshape(-1, 3),
                                                  axis=0)) > 20  # not a blank page
        # the first animation: press its play button like a user, the drawn skeleton changes
        box = browser.evaluate("(() => {const d = document.getElementById('anim-0'); d.scrollIntoView(); "
                               "const r = d.getBoundingClientRect(); const b = d.querySelector('.updatemenu-button')"
                               ".getBoundingClientRect(); return [r.x, r.y, r.width, r.height, "
                               "b.x + b.width / 2, b.y + b.height / 2]})()")
        frame = "JSON.stringify(document.getElementById('anim-0').data.map(t => [t.x, t.y]))"
        before_data, before = browser.evaluate(frame), browser.screenshot()
        bones = json.loads(before_data)[0][0]
        assert 0 < len(bones) <= 3 * len(StickFigure.edges)  # (x_a, x_b, None) per drawn edge
        browser.click(box[4], box[5])
        browser.pump(1.0)
        after_data, after = browser.evaluate(frame), browser.screenshot()
        assert after_data != before_data
        x, y, w, h = (int(v) for v in box[:4])
        assert np.abs(after[y:y + h, x:x + w] - before[y:y + h, x:x + w]).max() > 0.2  # pixels of the figure moved
        assert browser.errors() == []


def test_report_reuses_the_newest_evaluation_with_a_dump(stick_run, tmp_path):
    from posecls.report import build_report
    from posecls.tools.test import main as test_main

    work_dir = stick_run['work_dir']
    cfg_file = str(tmp_path / 'cfg.py')
    stick_run['cfg'].dump(cfg_file)
    ckpt = osp.join(work_dir, 'pc_model_latest.pth')
    test_main([cfg_file, ckpt, '--work-dir', osp.join(work_dir, 'test'), '--dump',
               osp.join(work_dir, 'test', 'predictions.npz')])
    res = build_report(work_dir, str(tmp_path / 'r.html'), num_samples=1, echo=lambda _: None)
    assert res['evaluated'] is False and res['evaluation'].startswith(osp.join(work_dir, 'test'))
    assert res['misclassified'] == 1 and osp.getsize(res['path']) == res['bytes']
    # a dump that is not of that evaluation is refused, naming both files
    dump = osp.join(work_dir, 'test', 'predictions.npz')
    with np.load(dump) as z:
        fields = dict(z)
    fields['scores'] = fields['scores'][:, ::-1].copy()
    with open(dump, 'wb') as f:
        np.savez(f, **fields)
    with pytest.raises(ValueError, match=r'predictions dump .*predictions\.npz does not give the confusion matrix '
                                         r'of .*metrics\.json'):
        build_report(work_dir, str(tmp_path / 'r2.html'), eval_dir=osp.join(work_dir, 'test'),
                     echo=lambda _: None)
    os.remove(dump)  # the earlier evaluation without its dump is not used: the report's own is
    res = build_report(work_dir, str(tmp_path / 'r3.html'), num_samples=0, echo=lambda _: None)
    assert res['evaluation'].startswith(osp.join(work_dir, 'report', 'eval')) and res['misclassified'] == 0


def test_bad_work_dirs_give_one_error_line_naming_the_file(stick_run, tmp_path, capsys):
    import torch

    from posecls.tao.cli import main

    empty = tmp_path / 'empty'
    empty.mkdir()
    r = subprocess.run([sys.executable, osp.join(REPO, 'tools', 'report.py'), str(empty)], cwd=str(tmp_path),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 1 and 'Traceback' not in r.stderr, r.stderr
    assert r.stderr.splitlines()[0] == (f'tools/report.py: error: {empty}: no checkpoint (pc_model_latest.pth or '
                                        'model_epoch_*.pth); train first, or pass --checkpoint')

    def error(*argv):
        capsys.readouterr()
        assert main(['report', *argv]) == 1
        return capsys.readouterr().err.splitlines()[0]

    assert error(str(tmp_path / 'missing')) == f'posecls report: error: work dir not found: {tmp_path / "missing"}'

    # a checkpoint of no posecls run: no training_history.json and no history in the checkpoint
    from posecls.apis.inference import init_recognizer
    foreign = tmp_path / 'foreign'
    foreign.mkdir()
    torch.save({'state_dict': init_recognizer(stick_run['cfg']).state_dict(), 'meta': {}},
               foreign / 'model_epoch_3.pth')
    assert error(str(foreign)).startswith(f'posecls report: error: {foreign / "training_history.json"}: not found, '
                                          'and the checkpoint stores no meta.training_history')
    from posecls.report import build_report
    (foreign / 'training_history.json').write_text('{"epoch": ')
    with pytest.raises(ValueError, match=re.escape(f'{foreign / "training_history.json"}: not valid JSON')):
        build_report(str(foreign))
    with pytest.raises(FileNotFoundError, match=r'--eval-dir .*nowhere: no evaluation of .*pc_model_latest\.pth'):
        build_report(stick_run['work_dir'], eval_dir=str(tmp_path / 'nowhere'))
    with pytest.raises(ValueError, match=r'out of range: num_samples=-1 \(expected >= 0\)'):
        build_report(stick_run['work_dir'], num_samples=-1)
    with pytest.raises(FileNotFoundError, match='checkpoint not found: .*nope.pth'):
        build_report(stick_run['work_dir'], checkpoint=str(tmp_path / 'nope.pth'))


def test_precision_recall_f1_and_most_confused_pairs():
    cm = np.array([[3, 1, 0, 0],
                   [0, 2, 0, 0],
                   [0, 4, 0, 0],
                   [0, 0, 0, 0]])
    s = precision_recall_f1(cm)
    np.testing.assert_allclose(s['precision'][:2], [1.0, 2 / 7])
    assert np.isnan(s['precision'][2]) and np.isnan(s['precision'][3])  # never predicted
    np.testing.assert_allclose(s['recall'][:3], [0.75, 1.0, 0.0])
    assert np.isnan(s['recall'][3])  # no sample
    np.testing.assert_allclose(s['f1'][:3], [2 * 0.75 / 1.75, 2 * (2 / 7) / (2 / 7 + 1), 0.0])
    assert np.isnan(s['f1'][3]) and s['support'].tolist() == [4, 2, 4, 0]
    assert most_confused_pairs(cm, 5) == [(2, 1, 4), (0, 1, 1)]
    assert most_confused_pairs(cm, 1) == [(2, 1, 4)] and most_confused_pairs(np.eye(3, dtype=int)) == []


def test_skeleton_animation_draws_the_layout_edges_of_present_joints():
    layout = get_layout(LAYOUT)
    rng = np.random.default_rng(0)
    seq = np.zeros((3, 40, 7, 2))
    seq[:2, :30, :, 0] = rng.uniform(0.1, 1, (2, 30, 7))
    seq[1, :30, 2, 0] = 0.05  # the nose at the smallest y: image coordinates, y grows downwards
    seq[:, :30, 3, 0] = 0  # the left wrist is never detected
    fig = skeleton_animation(seq, layout, 'x', max_frames=10)
    assert len(fig['frames']) == 10 and [f['name'] for f in fig['frames']][:2] == ['0', '3']  # 30 frames thinned
    bones, joints = fig['frames'][1]['data']  # one person: the second is all zeros
    drawn = [(round(bones['x'][i], 3), round(bones['x'][i + 1], 3)) for i in range(0, len(bones['x']), 3)]
    expected = [(round(seq[0, 3, a, 0], 3), round(seq[0, 3, b, 0], 3)) for a, b in layout.edges if 3 not in (a, b)]
    assert drawn == expected and joints['text'] == [n for n in layout.joint_names if n != 'left_wrist']
    y_range = fig['layout']['yaxis']['range']
    assert y_range[0] > y_range[1]  # downwards
    up = skeleton_animation(seq, layout, vertical='up')['layout']['yaxis']['range']
    assert up == y_range[::-1]
    with pytest.raises(ValueError, match="V=7, M\\) keypoints of layout 'StickFigure', got shape \\(3, 40, 5, 2\\)"):
        skeleton_animation(seq[:, :, :5], layout)
    with pytest.raises(ValueError, match='no joint'):
        skeleton_animation(np.zeros((3, 4, 7, 1)), layout)


def test_predictions_dumps_are_never_unpickled(tmp_path):
    from posecls.report.collect import load_predictions
    path = tmp_path / 'predictions.pkl'
    path.write_bytes(b'not read')
    with pytest.raises(ValueError, match=r"read from \('\.npz', '\.json'\), not '\.pkl'"):
        load_predictions(str(path))
