"""posecls render: DeepStream JSON with actions -> MP4 (blank canvas and over a video), read back with imageio."""
import json
import os
import os.path as osp
import subprocess
import sys

import imageio_ffmpeg
import numpy as np
import pytest

from posecls.datasets.deepstream import (
    apply_actions,
    build_inference_inputs,
    generate_deepstream_json,
    load_pose_json,
    write_results_json,
)
from posecls.tools.render import main
from posecls.visualization.render import BACKGROUND, PALETTE, frame_objects, object_box

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
W, H = 320, 180  # output size; the poses are in 1920 x 1080 pixels (TAO's input size)
SCALE = (W / 1920, H / 1080)


def read_video(path):
    """(frames (F, H, W, 3) uint8, fps) through imageio-ffmpeg."""
    gen = imageio_ffmpeg.read_frames(path)
    meta = next(gen)
    w, h = meta['size']
    frames = np.stack([np.frombuffer(b, np.uint8).reshape(h, w, 3) for b in gen])
    return frames, meta['fps']


@pytest.fixture(scope='module')
def results_json(tmp_path_factory):
    """A Triton-client-style results.json: the generator's JSON with "action" per object (the client's rule)."""
    d = tmp_path_factory.mktemp('render')
    src = str(d / 'cam.json')
    generate_deepstream_json(src, num_frames=40, num_tracks=2, seed=1)
    inputs = build_inference_inputs(src, sequence_length=10, sequence_length_min=5, sequence_length_max=10)
    data, _ = load_pose_json(src)
    apply_actions(data, inputs.segments, ['walking' if k % 2 else 'sitting' for k in range(len(inputs.sequences))])
    out = str(d / 'results.json')
    write_results_json(out, data)
    frames = [f for b in data for f in b['batches']]
    return out, frames


def _patch(img, x, y, r=1):
    x, y = int(round(x)), int(round(y))
    return img[max(y - r, 0):y + r + 1, max(x - r, 0):x + r + 1].reshape(-1, 3).astype(int)


def _labelled_frame(frames):
    """A frame whose every object has an action, with its objects in output pixels."""
    for f in frames:
        objs = frame_objects(f, 'results.json', 34, scale=SCALE)
        if objs and all(o.action for o in objs):
            return f, objs
    raise AssertionError('no frame with actions')


def test_blank_canvas(results_json, tmp_path, capsys):
    path, frames = results_json
    out = str(tmp_path / 'out.mp4')
    res = main([path, '--out', out, '--width', str(W), '--height', str(H), '--input-width', '1920',
                '--input-height', '1080', '--no-frame-num', '--summary-json', str(tmp_path / 's.json')])
    assert 'Rendered' in capsys.readouterr().out
    video, fps = read_video(out)
    nums = [f['frame_num'] for f in frames]
    assert video.shape == (max(nums) - min(nums) + 1, H, W, 3) == (res['frames'], res['height'], res['width'], 3)
    assert fps == 30.0 and res['frames_drawn'] == len(frames) and res['objects'] == 2
    acts = {o['action'] for f in frames for o in f['objects']}
    assert set(res['actions']) == acts and {'walking', 'sitting'} <= acts
    assert json.load(open(tmp_path / 's.json'))['frames'] == res['frames']

    f, objs = _labelled_frame(frames)
    img = video[f['frame_num'] - min(nums)]
    bg = np.array(BACKGROUND)
    # a frame without objects is background; so is the far corner of a drawn frame
    empty = [k for k in range(len(video)) if k + min(nums) not in set(nums)]
    for k in empty[:2]:
        assert np.abs(video[k].astype(int) - bg).max() < 12
    assert np.abs(_patch(img, W - 3, H - 3) - bg).max() < 12
    for o in objs:
        j = int(np.flatnonzero(o.visible)[0])  # a drawn joint: a white dot
        assert _patch(img, *o.xy[j]).min(axis=1).max() > 150, o.object_id
        box = object_box(o)  # the label sits above the box, filled with the track's colour
        label = _patch(img, max(box[0], 0) + 3, box[1] - 4)
        assert np.abs(label - bg).max() > 60
    # the track colours are the palette's, in order of first appearance
    first = frame_objects(frames[0], 'x', 34, scale=SCALE)[0]
    x0, y0, x1, y1 = object_box(first)
    edge = video[0, int(y0) + 2:int(y1) - 2, max(int(x0), 0)].astype(int)  # the box's left side
    assert np.abs(edge - np.array(PALETTE[0])).sum(axis=1).min() < 80


def test_label_shows_the_action(results_json, tmp_path):
    """The same frames without actions draw only ids: the label pixels differ where the action text was."""
    path, frames = results_json
    data, _ = load_pose_json(path)
    for b in data:
        for f in b['batches']:
            for o in f['objects']:
                o['action'] = ''
    plain = str(tmp_path / 'plain.json')
    write_results_json(plain, data)
    f, objs = _labelled_frame(frames)
    a, b = str(tmp_path / 'a.mp4'), str(tmp_path / 'b.mp4')
    common = ['--width', str(W), '--height', str(H), '--input-width', '1920', '--input-height', '1080',
              '--max-frames', str(f['frame_num'] - frames[0]['frame_num'] + 1)]
    main([path, '--out', a] + common)
    res = main([plain, '--out', b] + common)
    assert res['actions'] == {'': res['appearances']}
    va, vb = read_video(a)[0][-1].astype(int), read_video(b)[0][-1].astype(int)
    for o in objs:
        x0, y0 = max(object_box(o)[0], 0), object_box(o)[1]
        band = (slice(max(int(y0) - 12, 0), max(int(y0), 1)), slice(int(x0), min(int(x0) + 90, W)))
        assert np.abs(va[band] - vb[band]).max() > 60  # "<id> walking" vs "<id>"


def test_over_a_video(results_json, tmp_path):
    path, frames = results_json
    src = str(tmp_path / 'src.mp4')
    n = 30
    writer = imageio_ffmpeg.write_frames(src, (W, H), fps=25, quality=9, macro_block_size=2,
                                         ffmpeg_log_level='error')
    writer.send(None)
    bgs = []
    for k in range(n):
        bg = np.zeros((H, W, 3), np.uint8)
        bg[..., 0], bg[..., 1], bg[..., 2] = 40 + 4 * k, 120, 200  # a colour that changes every frame
        bgs.append(bg)
        writer.send(bg.tobytes())
    writer.close()
    out = str(tmp_path / 'over.mp4')
    offset = frames[0]['frame_num'] - 5  # the first poses land on video frame 5
    res = main([path, '--out', out, '--video', src, '--input-width', '1920', '--input-height', '1080',
                '--frame-offset', str(offset), '--no-frame-num'])
    video, fps = read_video(out)
    assert video.shape == (n, H, W, 3) and res['frames'] == n and fps == 25.0
    last = frames[0]['frame_num'] + n - 6
    assert res['frames_drawn'] == sum(f['frame_num'] <= last for f in frames)
    assert res['skipped']['beyond_end'] == sum(f['frame_num'] > last for f in frames)
    for k in (0, 4, n - 1):  # away from the drawings the source video shows through
        assert np.abs(_patch(video[k], W - 3, H - 3, 0) - bgs[k][0, 0].astype(int)).max() < 16
    assert np.abs(video[0].astype(int) - bgs[0]).mean() < 4  # frame 0: no poses yet
    f, objs = _labelled_frame([f for f in frames if f['frame_num'] <= last])
    img = video[f['frame_num'] - offset]
    for o in objs:
        j = int(np.flatnonzero(o.visible)[0])
        assert _patch(img, *o.xy[j]).min(axis=1).max() > 150


def test_bbox_field_and_errors(tmp_path):
    frame = dict(batch_id=0, frame_num=3, objects=[dict(object_id=7, pose25d=[10.0, 20.0, 0.0, 0.9] * 34,
                                                        bbox=dict(left=100, top=50, width=40, height=80),
                                                        action='waving')])
    (obj,) = frame_objects(frame, 'f.json', 34, scale=(0.5, 0.5))
    assert object_box(obj) == (50.0, 25.0, 70.0, 65.0) and obj.action == 'waving'
    bad = dict(frame, objects=[dict(object_id=7, pose25d=[1.0] * 30)])
    with pytest.raises(ValueError, match=r'f.json: frame_num 3, object_id 7: "pose25d" has 30 numbers'):
        frame_objects(bad, 'f.json', 34)
    with pytest.raises(ValueError, match=r'object_id 7: no "pose2d" to draw'):
        frame_objects(dict(frame, objects=[dict(object_id=7, pose3d=[0.0] * 136)]), 'f.json', 34)
    with pytest.raises(ValueError, match=r'bbox \[1, 2\] is not \[left, top, width, height\]'):
        frame_objects(dict(frame, objects=[dict(frame['objects'][0], bbox=[1, 2])]), 'f.json', 34)
    two = tmp_path / 'two.json'  # two sources in one file
    two.write_text(json.dumps([dict(num_frames_in_batch=2, batches=[dict(frame, batch_id=0),
                                                                     dict(frame, batch_id=1)])]))
    with pytest.raises(ValueError, match=r'frames of several sources \(batch_id 0, 1\).*--batch-id'):
        main([str(two), '--out', str(tmp_path / 'x.mp4'), '--width', '64', '--height', '64'])
    assert not (tmp_path / 'x.mp4').exists() and not [f for f in os.listdir(tmp_path) if f.endswith('.tmp')]
    res = main([str(two), '--out', str(tmp_path / 'one.mp4'), '--width', '64', '--height', '64', '--batch-id', '1'])
    assert res['frames'] == 1 and res['skipped']['other_batch_id'] == 1 and res['actions'] == {'waving': 1}


def test_wrapper_script_one_line_error(tmp_path):
    r = subprocess.run([sys.executable, osp.join(REPO, 'tools', 'render.py'), str(tmp_path / 'missing.json'),
                        '--out', str(tmp_path / 'o.mp4')], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, PYTHONPATH=REPO))
    assert r.returncode == 1
    assert r.stderr.splitlines()[0] == (f'tools/render.py: error: render: DeepStream JSON not found: '
                                        f'{tmp_path / "missing.json"}')


def test_truncated_recording(tmp_path):
    """A crashed DeepStream run's file (unterminated array): its complete frames are drawn."""
    cut = str(tmp_path / 'cut.json')
    info = generate_deepstream_json(cut, num_frames=30, num_tracks=1, seed=4, truncate_at=0.5)
    res = main([cut, '--out', str(tmp_path / 'cut.mp4'), '--width', '95', '--height', '54', '--input-width', '1920',
                '--input-height', '1080'])
    assert res['truncated'] and res['frames_drawn'] == info['frames'] and res['actions'] == {'': info['frames']}
    # an odd width gets a copy of its last column (H.264 yuv420p needs even sizes)
    assert res['width'] == 96 and read_video(str(tmp_path / 'cut.mp4'))[0].shape[1:] == (54, 96, 3)
