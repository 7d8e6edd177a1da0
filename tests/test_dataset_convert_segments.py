"""Triton's window -> frame rule, action fields, inference inputs, and track gap splitting."""
import copy
import json

import numpy as np
import pytest

from posecls.apis.outputs import top1_labels
from posecls.datasets.deepstream import (
    apply_actions,
    assign_segments,
    build_inference_inputs,
    convert,
    generate_deepstream_json,
    load_pose_json,
    split_positions,
    write_results_json,
)

from tao_dataset_convert_ref import tao_convert, tao_sequences, triton_results, triton_segments

CLASSES = ['sitting_down', 'getting_up', 'sitting', 'standing', 'walking', 'jumping']


@pytest.fixture(scope='module')
def scene(tmp_path_factory):
    path = str(tmp_path_factory.mktemp('seg') / 'demo_3dbp.json')
    generate_deepstream_json(path, num_frames=330, num_tracks=5, seed=8)
    with open(path) as f:
        return path, json.load(f)


@pytest.mark.parametrize('opts', [dict(), dict(sequence_overlap=0.25), dict(sequence_overlap=1.0),
                                  dict(sequence_length=30, sequence_length_min=5, sequence_overlap=0.6)])
def test_assign_segments_matches_triton_rule(scene, opts):
    path, data = scene
    _, frames = tao_sequences(data)
    got = assign_segments(frames, **opts)
    ref = triton_segments(data, **opts)
    assert {k: v for k, v in got.items() if v >= 0} == ref
    assert set(got) == {(o, f) for o, fr in frames.items() for f in fr}
    if opts.get('sequence_overlap') == 1.0:
        assert not ref  # windows never longer than the step: Triton labels no frame
    else:
        assert ref


def test_actions_match_triton_postprocessor_and_results_json(scene, tmp_path):
    path, data = scene
    inputs = build_inference_inputs(path)
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(len(inputs.sequences), len(CLASSES)))
    top1 = top1_labels(logits, CLASSES)
    assert top1 == [CLASSES[i] for i in logits.argmax(1)]
    pose_data, report = load_pose_json(path)
    assert pose_data == data and not report.truncated
    got = apply_actions(pose_data, inputs.segments, top1)
    ref = triton_results(copy.deepcopy(data), triton_segments(data), top1)
    assert got == ref
    actions = [o['action'] for b in got for f in b['batches'] for o in f['objects']]
    assert '' in actions and set(actions) - {''}
    assert all('num_obj_meta' not in f for b in got for f in b['batches'])
    out = tmp_path / 'results.json'
    write_results_json(str(out), got)
    assert out.read_text() == json.dumps(ref, sort_keys=True, indent=2)
    with pytest.raises(ValueError, match='has no action: only 1 predictions'):
        apply_actions(copy.deepcopy(data), inputs.segments, top1[:1])


def test_inference_inputs_are_the_converted_windows_in_segment_order(scene, tmp_path):
    path, data = scene
    inputs = build_inference_inputs(path, pose_type='25dbp')
    ref = tao_convert(data, pose_type='25dbp')
    assert inputs.sequences.tobytes() == np.concatenate(list(ref.values())).tobytes()
    assert len(inputs.windows) == len(inputs.sequences)
    assert set(inputs.segments.values()) <= set(range(-1, len(inputs.sequences)))  # short tails label nothing
    oid, first, last = inputs.windows[0]
    assert oid == next(iter(ref)) and first <= last
    with pytest.raises(ValueError, match='option labels is for building a labelled dataset'):
        build_inference_inputs(path, labels='x.csv')


def test_load_pose_json_of_a_truncated_file(scene, tmp_path):
    path, data = scene
    text = open(path, 'rb').read()
    cut = tmp_path / 'cut.json'
    cut.write_bytes(text[:len(text) // 2])
    got, report = load_pose_json(str(cut))
    assert report.truncated and report.stop.byte <= len(text) // 2
    flat = [f for b in got for f in b['batches']]
    full = [f for b in data for f in b['batches']]
    assert flat == full[:len(flat)] and 0 < len(flat) < len(full)


def test_split_positions():
    fr = np.array([3, 4, 6, 40, 41, 42, 10, 11])
    assert split_positions(fr, None) == [(0, 8)]
    assert split_positions(fr, 5) == [(0, 3), (3, 6), (6, 8)]  # forward jump > 5 and the jump back both split
    assert split_positions(fr, 40) == [(0, 6), (6, 8)]
    assert split_positions(np.array([], np.int64), 5) == []


def test_split_gap_windows_never_span_a_gap(tmp_path):
    path = str(tmp_path / 'gap.json')
    info = generate_deepstream_json(path, num_frames=400, num_tracks=2, seed=4, reappear_gap=150)
    oid = info['tracks'][0]['object_id']
    with open(path) as f:
        data = json.load(f)
    frames = info['tracks'][0]['frame_nums']
    cut = next(i for i in range(1, len(frames)) if frames[i] - frames[i - 1] > 100)
    # the reference: the second appearance of the track under another id, converted by the literal TAO loops
    split = copy.deepcopy(data)
    for b in split:
        for f in b['batches']:
            for o in f['objects']:
                if o['object_id'] == oid and f['frame_num'] >= frames[cut]:
                    o['object_id'] = -1
    ref = tao_convert(split)
    s = convert(path, str(tmp_path / 'split'), split_gap=30, progress=False)
    got = np.load(tmp_path / 'split' / f'object_{oid}.npy')
    assert got.tobytes() == np.concatenate([ref[oid], ref[-1]]).tobytes()
    assert s['tracks'] == s['objects'] + 1
    plain = convert(path, str(tmp_path / 'plain'), progress=False)  # TAO default glues the two appearances
    assert np.load(tmp_path / 'plain' / f'object_{oid}.npy').tobytes() == tao_convert(data)[oid].tobytes()
    assert plain['tracks'] == plain['objects']
    # the Triton rule follows the same pieces
    _, fr_by_obj = tao_sequences(data)
    seg = assign_segments(fr_by_obj, split_gap=30)
    inputs = build_inference_inputs(path, split_gap=30)
    assert seg == inputs.segments and len(inputs.sequences) == s['windows']
    ref_seg = triton_segments(split)
    remapped = {(oid if o == -1 else o, f): v for (o, f), v in ref_seg.items()}

    def groups(m):
        out = {}
        for k, v in m.items():
            if v >= 0:
                out.setdefault(v, set()).add(k)
        return {frozenset(g) for g in out.values()}

    assert groups(seg) == groups(remapped)  # same frames labelled by the same windows (ids follow track order)
    for (o, f), v in seg.items():
        if v >= 0:
            w_oid, first, last = inputs.windows[v]
            assert w_oid == o and first <= f <= last
