"""Live per-track streaming (posecls.streaming, tools/stream.py): every emission equals the model on that track's
last sequence_length appearances, computed independently from the JSON; file, follow, stdin, MQTT (a real
mosquitto broker, restarted mid-stream) and Triton sources; bad input is reported and skipped; SIGTERM flushes."""
import io
import json
import os
import os.path as osp
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from posecls.datasets.deepstream import generate_deepstream_json, pose_features

from _deploy_fixtures import torch_logits
from conftest import REPO, TINY_T

L, MIN_LEN, STRIDE, EXPIRY = 20, 5, 7, 2.0
WINDOW_ARGS = ['--sequence-length', str(L), '--sequence-length-min', str(MIN_LEN), '--stride', str(STRIDE),
               '--sequence-length-max', str(TINY_T)]  # a checkpoint's T (300 by default); the ONNX model's is 32


def reference(batches, model, classes, T=TINY_T, length=L, min_len=MIN_LEN, stride=STRIDE, expiry=EXPIRY):
    """Emissions and per-object actions computed directly from the parsed JSON (no posecls.streaming code).

    A track is an object_id's appearances; it restarts when the id comes back more than ``expiry`` seconds
    (ntp_timestamp) after its last appearance. After its n-th appearance it is classified when n % stride == 0
    and n >= min_len, on its last min(n, length) appearances zero-padded at the end to T.
    """
    tracks, keys, windows, restarts = {}, [], [], 0
    labels = []  # per object appearance, in file order: index of the track's newest emission or -1
    now = float('-inf')
    for batch in batches:
        for frame in batch['batches']:
            now = max(now, frame['ntp_timestamp'] / 1e9)
            for obj in frame['objects']:
                oid = obj['object_id']
                t = tracks.get(oid)
                if t is not None and now - t['last'] > expiry:
                    t, restarts = None, restarts + 1
                if t is None:
                    t = tracks[oid] = dict(feats=[], last=now, emission=-1)
                t['feats'].append(pose_features(np.asarray(obj['pose3d'], np.float64)[None], '3dbp')[0])
                t['last'] = now
                n = len(t['feats'])
                if n >= min_len and n % stride == 0:
                    win = np.stack(t['feats'][-length:])  # (k, C, V)
                    x = np.zeros((3, T, 34, 1), np.float32)
                    x[:, :len(win), :, 0] = win.transpose(1, 0, 2)
                    windows.append(x)
                    keys.append((frame['frame_num'], oid))
                    t['emission'] = len(keys) - 1
                labels.append(t['emission'])
    logits = torch_logits(model, np.stack(windows))
    actions = [classes[i] for i in logits.argmax(1)]
    return dict(keys=keys, logits=logits, actions=actions, restarts=restarts,
                labels=[actions[k] if k >= 0 else '' for k in labels])


def read_lines(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def check_against(lines, ref, atol=1e-5):
    assert [(r['frame_num'], r['object_id']) for r in lines] == ref['keys']
    got = np.array([r['logits'] for r in lines], np.float32)
    np.testing.assert_allclose(got, ref['logits'], atol=atol, rtol=0)
    assert [r['action'] for r in lines] == ref['actions']
    z = ref['logits'].astype(np.float64)
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    np.testing.assert_allclose([r['score'] for r in lines], p.max(1), atol=1e-5)
    assert set(lines[0]) == {'frame_num', 'object_id', 'action', 'score', 'logits'}


@pytest.fixture(scope='module')
def stream_json(tmp_path_factory):
    """People entering, leaving, with occluded joints and missed frames; one leaves for 3 s (> expiry) and
    comes back with the same id; two frames per batch element."""
    path = str(tmp_path_factory.mktemp('stream') / 'demo_3dbp.json')
    info = generate_deepstream_json(path, num_frames=260, num_tracks=5, seed=3, reappear_gap=90, frames_per_batch=2)
    with open(path) as f:
        batches = json.load(f)
    return dict(path=path, info=info, batches=batches)


@pytest.fixture(scope='module')
def expected(stream_json, tiny_deploy):
    ref = reference(stream_json['batches'], tiny_deploy['model'], tiny_deploy['classes'])
    assert ref['restarts'] >= 1 and len(ref['keys']) > 50
    return ref


def run_stream(tiny_deploy, source, out, *extra, model='ckpt'):
    from posecls.tools.stream import main
    return main([tiny_deploy['cfg_file'], tiny_deploy[model], '--source', source, '--out', str(out), *WINDOW_ARGS,
                 *extra])


def test_file_stream_equals_the_independent_reference(stream_json, expected, tiny_deploy, tmp_path):
    out, wb = tmp_path / 'actions.jsonl', tmp_path / 'results.json'
    summary = run_stream(tiny_deploy, stream_json['path'], out, '--write-back', str(wb), '--max-batch', '5')
    check_against(read_lines(out), expected)
    assert summary['stopped'] == 'end of input' and summary['malformed'] == 0
    assert summary['emissions'] == len(expected['keys']) and summary['tracks_expired'] >= expected['restarts']
    assert summary['model_calls'] >= len(expected['keys']) // 8  # max_batch 5 (+ one message's windows)
    # the write-back: the input with the track's newest action on every object, num_obj_meta removed
    back = json.load(open(wb))
    objs = [o for b in back for fr in b['batches'] for o in fr['objects']]
    assert [o['action'] for o in objs] == expected['labels']
    assert all('num_obj_meta' not in fr for b in back for fr in b['batches'])
    src = [o for b in stream_json['batches'] for fr in b['batches'] for o in fr['objects']]
    assert [o['pose3d'] for o in objs] == [o['pose3d'] for o in src]
    # the frame clock (frame_num / fps) gives the same tracks here (ntp_timestamp advances 1/30 s per frame)
    run_stream(tiny_deploy, stream_json['path'], tmp_path / 'f.jsonl', '--clock', 'frame', '--fps', '30')
    check_against(read_lines(tmp_path / 'f.jsonl'), expected)
    # a cap below the number of people in view: the extra ids wait, the tracked ones keep being classified
    summary = run_stream(tiny_deploy, stream_json['path'], tmp_path / 'cap.jsonl', '--max-tracks', '2',
                         '--summary-json', str(tmp_path / 'summary.json'))
    assert summary['peak_tracks'] == 2 and summary['refused_appearances'] > 0
    assert json.load(open(tmp_path / 'summary.json')) == summary
    assert len(read_lines(tmp_path / 'cap.jsonl')) == summary['emissions'] > 0


def _lines(batches):
    return [json.dumps(b, separators=(',', ':')).encode() + b'\n' for b in batches]


JUNK = [
    b'this is not json\n',
    b'{"num_frames_in_batch": 1, "batches": [{"batch_id": 0, "frame_num": 7, "ntp_timestamp": 1}]}\n',
    b'{"num_frames_in_batch": 1, "batches": [{"batch_id": 0, "frame_num": 7, "ntp_timestamp": 1, "objects": '
    b'[{"object_id": 5, "pose3d": [1, 2, 3], "pose25d": [1, 2, 3]}]}]}\n',
    b'{"num_frames_in_batch": 1, "batches": [{"batch_id": 0, "frame_num": 7, "objects": []}]}\n',
    b'[1, 2]\n',
    b'{"num_frames_in_batch": 1, "batches": [}\n',
    b'\n',
]


def _big_pose_line(batch):
    """A copy of ``batch`` whose first pelvis x is 1e45: finite JSON, non-finite features (float32)."""
    bad = json.loads(json.dumps(batch))
    bad['batches'][0]['objects'][0]['pose3d'][0] = 1e45  # the pelvis: every visible joint minus it overflows
    return json.dumps(bad).encode() + b'\n'


def _nan_line(batch):
    return json.dumps(batch).replace('"pose3d": [', '"pose3d": [NaN, ', 1).encode() + b'\n'


def test_stdin_onnx_bad_lines_are_reported_skipped_and_change_nothing(stream_json, expected, tiny_deploy, tmp_path,
                                                                       monkeypatch, capsys):
    good = _lines(stream_json['batches'])
    data, junk_at = [], {}
    for i, line in enumerate(good):
        if i % 9 == 4:
            for j in JUNK + [_big_pose_line(stream_json['batches'][i]), _nan_line(stream_json['batches'][i])]:
                data.append(j)
                junk_at[len(data)] = j
        data.append(line)
    monkeypatch.setattr(sys, 'stdin', io.TextIOWrapper(io.BytesIO(b''.join(data))))
    out = tmp_path / 'a.jsonl'
    summary = run_stream(tiny_deploy, '-', out, model='onnx')
    check_against(read_lines(out), expected, atol=1e-4)  # the junk lines changed no track
    n_bad = sum(1 for j in junk_at.values() if j.strip())
    assert summary['malformed'] == n_bad and summary['messages'] == len(good)
    err = capsys.readouterr().err
    first = min(junk_at)
    assert f'<stdin> line {first}: ' in err  # reported with its position
    assert 'invalid JSON at column 40' in err
    assert '"objects" is missing' in err and '"pose3d" has 3 values, expected 136' in err
    assert '"ntp_timestamp" is missing' in err and 'expected one batch object' in err
    assert 'non-finite feature' in err and "non-finite number at column " in err and "'NaN'" in err


def test_follow_a_file_being_written_and_a_cut_file(stream_json, expected, tiny_deploy, tmp_path):
    text = open(stream_json['path'], 'rb').read()
    live = tmp_path / 'live.json'
    live.write_bytes(b'')

    def writer():
        with open(live, 'ab') as f:
            for k in range(0, len(text), 65536):
                f.write(text[k:k + 65536])
                f.flush()
                time.sleep(0.01)

    t = threading.Thread(target=writer)
    t.start()
    out = tmp_path / 'follow.jsonl'
    summary = run_stream(tiny_deploy, str(live), out, '--follow')
    t.join()
    assert summary['stopped'] == 'end of input'  # the closing "]" ended it
    check_against(read_lines(out), expected)
    # a file cut short (a crashed writer): every complete batch element is used, the cut one reported
    cut = tmp_path / 'cut.json'
    cut.write_bytes(text[:int(len(text) * 0.6)])
    whole = text.rfind(b']\n}', 0, int(len(text) * 0.6)) + 3
    ref = reference(json.loads(text[:whole] + b']'), tiny_deploy['model'], tiny_deploy['classes'])
    summary = run_stream(tiny_deploy, str(cut), tmp_path / 'cut.jsonl')
    check_against(read_lines(tmp_path / 'cut.jsonl'), ref)
    assert summary['malformed'] == 1 and summary['stopped'] == 'end of input'
    # text between elements that is not an element: reported at its byte, skipped up to the next batch
    bad = tmp_path / 'bad.json'
    k = text.find(b', {\n  "num_frames_in_batch"', 50000)
    bad.write_bytes(text[:k] + b', garbage {"x": [1, 2' + text[k:])
    summary = run_stream(tiny_deploy, str(bad), tmp_path / 'bad.jsonl')
    check_against(read_lines(tmp_path / 'bad.jsonl'), expected)
    assert summary['malformed'] == 1


# ---------------------------------------------------------------------------------------------------- MQTT
@pytest.fixture
def broker(tmp_path):
    from posecls.streaming.broker import LocalBroker, mosquitto_binary
    if mosquitto_binary() is None:
        pytest.skip('mosquitto is not installed (apt-get install mosquitto; .ci/run installs it)')
    b = LocalBroker(workdir=str(tmp_path)).start()
    yield b
    b.stop()


def _wait(cond, timeout=30.0, what='condition'):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f'timed out waiting for {what}')


def _publisher(broker):
    import paho.mqtt.client as mqtt
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f'test-pub-{time.monotonic_ns()}')
    c.connect('127.0.0.1', broker.port)
    c.loop_start()
    return c


def _subscriber(broker, topic, got):
    import paho.mqtt.client as mqtt
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f'test-sub-{time.monotonic_ns()}')
    c.on_message = lambda client, userdata, msg: got.append(json.loads(msg.payload))
    c.connect('127.0.0.1', broker.port)
    c.subscribe(topic, qos=1)
    c.loop_start()
    return c


def _stream_thread(tiny_deploy, broker, out, *extra):
    result = {}

    def target():
        try:
            result['summary'] = run_stream(tiny_deploy, f'{broker.url}/ds/pose', out, '--qos', '1', *extra)
        except BaseException as e:  # noqa: BLE001 - re-raised by the test
            result['error'] = e

    t = threading.Thread(target=target)
    t.start()
    return t, result


def test_mqtt_in_mqtt_out_equals_the_reference(stream_json, expected, tiny_deploy, tmp_path, broker):
    got = []
    sub = _subscriber(broker, 'ds/actions', got)
    out = tmp_path / 'mqtt.jsonl'
    t, result = _stream_thread(tiny_deploy, broker, out, '--mqtt-out', f'{broker.url}/ds/actions', '--idle-timeout',
                               '3', '--write-back', str(tmp_path / 'wb.json'))
    _wait(lambda: broker.log_count('Sending SUBACK to posecls-source') >= 1, what='the stream to subscribe')
    pub = _publisher(broker)
    for line in _lines(stream_json['batches']):
        pub.publish('ds/pose', line, qos=1)
    t.join(120)
    assert 'error' not in result, result.get('error')
    check_against(read_lines(out), expected)
    _wait(lambda: len(got) == len(expected['keys']), timeout=10, what='the published actions')
    check_against(got, expected)
    s = result['summary']
    assert s['stopped'] == 'idle timeout' and s['published'] == len(got) and s['reconnects'] == 0
    assert s['latency_p99_ms'] is not None and s['latency_p50_ms'] <= s['latency_p99_ms']
    back = json.load(open(tmp_path / 'wb.json'))
    assert [o['action'] for b in back for fr in b['batches'] for o in fr['objects']] == expected['labels']
    pub.loop_stop()
    sub.loop_stop()


def test_mqtt_broker_restart_reconnects_with_backoff(stream_json, tiny_deploy, tmp_path, broker, capsys):
    lines = _lines(stream_json['batches'])
    half = len(lines) // 2
    out = tmp_path / 'restart.jsonl'
    t, result = _stream_thread(tiny_deploy, broker, out, '--idle-timeout', '5')
    _wait(lambda: broker.log_count('Sending SUBACK to posecls-source') >= 1, what='the stream to subscribe')
    pub = _publisher(broker)
    for line in lines[:half]:
        pub.publish('ds/pose', line, qos=1)
    _wait(lambda: broker.log_count('Received PUBACK from posecls-source') >= half, what='the first half delivered')
    pub.loop_stop()
    broker.stop()  # the broker goes away ...
    time.sleep(0.5)
    broker.start()  # ... and comes back on the same port: the stream reconnects and subscribes again
    _wait(lambda: broker.log_count('Sending SUBACK to posecls-source') >= 2, what='the stream to resubscribe')
    _wait(lambda: out.exists() and len(out.read_text().splitlines()) > 5, what='actions before the restart')
    time.sleep(0.5)  # the first half is processed (it was in the stream's queue before the broker went away)
    before = len(out.read_text().splitlines())
    pub = _publisher(broker)
    for line in lines[half:]:
        pub.publish('ds/pose', line, qos=1)
    t.join(120)
    pub.loop_stop()
    assert 'error' not in result, result.get('error')
    s = result['summary']
    assert s['reconnects'] >= 1 and s['messages'] == len(lines) and s['stopped'] == 'idle timeout'
    after = read_lines(out)[before:]
    last_before = stream_json['batches'][half - 1]['batches'][-1]['frame_num']
    assert after and all(r['frame_num'] > last_before for r in after)
    err = capsys.readouterr().err
    assert 'disconnected from the broker' in err and 'reconnecting with backoff' in err and 'reconnected' in err


def test_sigterm_flushes_and_exits_0(stream_json, tiny_deploy, tmp_path):
    out, wb = tmp_path / 'sig.jsonl', tmp_path / 'sig.json'
    cmd = [sys.executable, osp.join(REPO, 'tools', 'stream.py'), tiny_deploy['cfg_file'], tiny_deploy['ckpt'],
           '--source', '-', '--out', str(out), '--write-back', str(wb), *WINDOW_ARGS]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE, cwd=str(tmp_path),
                            env={**os.environ, 'OMP_NUM_THREADS': '1'})
    try:
        for line in _lines(stream_json['batches'])[:40]:
            proc.stdin.write(line)
        proc.stdin.flush()
        n = len(reference(stream_json['batches'][:40], tiny_deploy['model'], tiny_deploy['classes'])['keys'])
        _wait(lambda: out.exists() and len(out.read_text().splitlines()) == n, timeout=120, what='actions')
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)  # stdin is still open: only the signal ends the stream
        proc.wait(timeout=60)
        err = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdin.close()
        proc.stderr.close()
    assert proc.returncode == 0, err.decode()[-2000:]
    assert 'SIGTERM:' in err.decode()
    lines = [json.loads(x) for x in out.read_text().splitlines()]  # every line complete
    back = json.load(open(wb))  # the write-back is complete JSON
    assert len(back) == 40 and sum(o['action'] != '' for b in back for fr in b['batches'] for o in fr['objects'])
    assert len(lines) == n


# ---------------------------------------------------------------------------------------------------- Triton
def test_triton_server_backend(stream_json, expected, tiny_deploy, tmp_path):
    import importlib.util
    import sysconfig
    if importlib.util.find_spec('tritonclient') is None or importlib.util.find_spec('pytriton') is None or \
            not sysconfig.get_config_var('Py_ENABLE_SHARED'):
        pytest.skip('needs tritonclient, nvidia-pytriton and a shared-libpython Python')
    from posecls.deploy.triton.serve import TritonServer
    from posecls.deploy.triton.triton_repo import write_triton_repository
    from posecls.tools.stream import main
    repo = str(tmp_path / 'repo')
    write_triton_repository(tiny_deploy['onnx'], repo, platform='python')
    with TritonServer(repo) as server:
        out = tmp_path / 'triton.jsonl'
        main([tiny_deploy['cfg_file'], '--server', server.grpc_url, '--protocol', 'grpc', '--source',
              stream_json['path'], '--out', str(out), *WINDOW_ARGS])
    check_against(read_lines(out), expected, atol=1e-4)


# ---------------------------------------------------------------------------------------------------- units
def test_track_table_expiry_cap_eviction_and_ring_order():
    from posecls.streaming import TrackTable
    tab = TrackTable(sequence_length=3, channels=1, joints=1, expiry_s=2.0, max_tracks=2, evict_idle_s=0.5, stride=2,
                     min_length=2)
    f = lambda v: np.full((1, 1), v, np.float32)  # noqa: E731
    tab.advance(0.0)
    a = tab.add('a', f(1))
    assert not tab.due(a)
    tab.add('b', f(10))
    assert tab.add('c', f(100)) is None and tab.new_refusals == ['c']  # full, nobody idle: the newcomer waits
    tab.new_refusals.clear()
    tab.advance(0.4)
    tab.add('a', f(2))
    assert tab.due(a) and tab.add('c', f(100)) is None and tab.new_refusals == []  # reported once
    tab.advance(0.6)  # b idle 0.6 s >= 0.5: evicted for c
    c = tab.add('c', f(101))
    assert c is not None and 'b' not in tab.tracks and tab.counts.evicted == 1 and tab.counts.refused == 2
    for v in (3, 4, 5):
        tab.add('a', f(v))
    assert a.count == 5 and a.window().ravel().tolist() == [3, 4, 5]  # the last 3, oldest first
    assert tab.due(a) is False and (tab.add('a', f(6)), tab.due(a)) == (a, True)
    tab.advance(2.0)
    tab.add('a', f(7))
    assert tab.advance(2.7) == ['c'] and list(tab.tracks) == ['a']  # c last seen at 0.6: 2.1 s > 2 s
    assert tab.advance(1.0) == [] and tab.now == 2.7  # stream time never goes back
    with pytest.raises(ValueError, match='sequence_length_min=4 is larger than sequence_length=3'):
        TrackTable(3, 1, 1, min_length=4)
    with pytest.raises(ValueError, match='stride=0'):
        TrackTable(3, 1, 1, stride=0, min_length=1)


def test_a_window_with_nan_gets_no_action_and_the_others_do(tiny_deploy):
    from posecls.datasets.deepstream.options import ConvertOptions
    from posecls.streaming import (
        BatchResult,
        Frame,
        Message,
        ParsedMessage,
        StreamEngine,
        StreamOptions,
    )
    opts = StreamOptions(ConvertOptions(sequence_length=4, sequence_length_min=2, sequence_length_max=TINY_T),
                         stride=2)
    engine = StreamEngine(tiny_deploy['model'], opts)
    rng = np.random.default_rng(0)
    batch = BatchResult()
    for k in range(2):
        feats = rng.normal(size=(2, 3, 34)).astype(np.float32)
        if k == 1:
            feats[1, 0, 3] = np.nan  # a library caller's features, not through the parser
        engine.add_parsed(ParsedMessage(Message(b'', f'm{k}'), [Frame(k, k / 30, [1, 2], feats)]), batch)
    engine.classify(batch)
    assert [(e.object_id, e.frame_num) for e in batch.emissions] == [(1, 1)]
    assert engine.summary.not_finite == 1 and batch.labels[1][(2, 1)].action is None


def test_mqtt_urls():
    from posecls.streaming import parse_mqtt_url
    u = parse_mqtt_url('mqtt://10.0.0.5:1884/deepstream/pose/#')
    assert (u.host, u.port, u.topic) == ('10.0.0.5', 1884, 'deepstream/pose/#')
    assert parse_mqtt_url('mqtt://broker/t').port == 1883
    for bad, msg in (('mqtt://host:99999/t', 'port'), ('mqtt://host:1883', 'no topic'), ('http://h/t', 'expected'),
                     ('mqtt://u:p@h/t', 'not supported')):
        with pytest.raises(ValueError, match=msg):
            parse_mqtt_url(bad)
    with pytest.raises(ValueError, match='wildcards'):
        parse_mqtt_url('mqtt://h/a/+', wildcards=False)


def test_command_line_errors_are_one_line(tiny_deploy, stream_json, tmp_path, capsys):
    from posecls.tao.cli import main
    base = [tiny_deploy['cfg_file']]
    out = ['--out', str(tmp_path / 'o.jsonl')]
    src = ['--source', stream_json['path']]
    cases = [
        (base + src + out, 'give a CHECKPOINT'),
        (base + [tiny_deploy['onnx']] + src + out, '--sequence-length 100 is longer than the model input T = 32'),
        (base + [tiny_deploy['onnx'], '--sequence-length-max', '300'] + src + out, 'takes T = 32'),
        (base + [tiny_deploy['ckpt'], '--stride', '0'] + src + out + WINDOW_ARGS[:4], 'stride=0'),
        (base + [tiny_deploy['ckpt'], '--source', str(tmp_path / 'missing.json')] + out + WINDOW_ARGS,
         'file not found'),
        (base + [tiny_deploy['ckpt'], '--source', 'kafka://h/t'] + out + WINDOW_ARGS, 'unknown scheme'),
        (base + [tiny_deploy['ckpt'], '--source', '-', '--follow'] + out + WINDOW_ARGS, 'is not a file'),
        (base + [tiny_deploy['ckpt'], '--backend', 'onnxruntime'] + src + out + WINDOW_ARGS, 'runs in PyTorch'),
        (base + [tiny_deploy['ckpt'], '--pose-type', '2dbp'] + src + out + WINDOW_ARGS, 'channels C = 3'),
        (base + [tiny_deploy['ckpt'], '--mqtt-out', 'mqtt://h/a/#'] + src + out + WINDOW_ARGS, 'wildcards'),
    ]
    for argv, msg in cases:
        assert main(['stream'] + argv) == 1, msg
        err = capsys.readouterr().err
        assert 'posecls stream: error:' in err and msg in err, (msg, err)
    assert not (tmp_path / 'o.jsonl').exists()  # nothing was written
