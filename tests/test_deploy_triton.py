"""Triton: TAO segment rule, model repository, client helpers, and a real local tritonserver (when installed)."""
import copy
import importlib.util
import json
import sysconfig

import numpy as np
import pytest

from posecls.apis.outputs import format_ranked_line
from posecls.deploy.triton.convert_config import load_convert_config
from posecls.deploy.triton.triton_client import batches, parse_classification

from _deploy_fixtures import TINY_SHAPE
from tao_dataset_convert_ref import tao_convert, triton_results, triton_segments

HAS_CLIENT = importlib.util.find_spec('tritonclient') is not None
HAS_SERVER = importlib.util.find_spec('pytriton') is not None and bool(sysconfig.get_config_var('Py_ENABLE_SHARED'))
needs_client = pytest.mark.skipif(not HAS_CLIENT, reason='tritonclient not installed (posecls[triton])')
needs_server = pytest.mark.skipif(not (HAS_CLIENT and HAS_SERVER),
                                  reason='needs tritonclient, nvidia-pytriton and a shared-libpython Python')

CONVERT = dict(sequence_length_max=32, sequence_length=20, sequence_length_min=5, sequence_overlap=0.5)


def _pose(rng, conf_zero=()):
    a = rng.uniform(-500, 500, size=(34, 4))
    a[:, 3] = 0.9
    a[list(conf_zero), 3] = 0.0
    return [float(v) for v in a.ravel()]


def make_pose_json(appearances, seed=0):
    """deepstream-bodypose-3d JSON: object id -> number of frames it appears in (from frame 0)."""
    rng = np.random.default_rng(seed)
    out = []
    for f in range(max(appearances.values())):
        objs = [dict(object_id=oid, pose3d=_pose(rng, conf_zero=(5, )), pose25d=_pose(rng))
                for oid, n in appearances.items() if f < n]
        out.append(dict(num_frames_in_batch=1, batches=[dict(batch_id=0, frame_num=f, ntp_timestamp=0,
                                                             num_obj_meta=len(objs), objects=objs)]))
    return out


def _objects(annotated, oid):
    return [o for b in annotated for fr in b['batches'] for o in fr['objects'] if o['object_id'] == oid]


def test_convert_config_yaml_triton_and_tao_names(tmp_path):
    yml = tmp_path / 'conv.yaml'
    yml.write_text('pose_type: 3dbp\nframe_width: 1280\nsequence_overlap: 0.0\n')
    with pytest.raises(ValueError, match='conv.yaml: .*sequence_overlap'):
        load_convert_config(str(yml))
    yml.write_text('input_width: 1280\nwidth_typo: 3\n')
    with pytest.raises(ValueError, match='width_typo'):
        load_convert_config(str(yml))
    yml.write_text('dataset_convert:\n  frame_width: 1280\n  sequence_length: 50\n  data: x.json\n')
    cfg = load_convert_config(str(yml))
    assert cfg['input_width'] == 1280 and cfg['sequence_length'] == 50 and cfg['focal_length'] == 1200.0
    assert 'data' not in cfg and 'frame_width' not in cfg
    with pytest.raises(FileNotFoundError, match='dataset_convert config not found'):
        load_convert_config(str(tmp_path / 'missing.yaml'))


def test_client_batching_and_line_format():
    assert batches(5, 2) == [[0, 1], [2, 3], [4, 0]]
    assert batches(4, 4) == [[0, 1, 2, 3]]
    ranked = parse_classification([b'7.123449:3:standing', b'-2.000000:0:sitting_down', '1.5:2'])
    assert ranked == [(7.123449, 3, 'standing'), (-2.0, 0, 'sitting_down'), (1.5, 2, '2')]
    assert format_ranked_line(0, np.array([-2.0, 0.5, 1.5, 7.123449]), ['sitting_down', 'x', '2', 'standing']) == \
        '0, 7.1234(3)=standing, 1.5000(2)=2, 0.5000(1)=x, -2.0000(0)=sitting_down'


@needs_client
def test_repository_for_official_tritonserver(tiny_deploy, tmp_path):
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    from posecls.tools.triton_repo import main
    res = main([tiny_deploy['onnx'], '--repo', str(tmp_path)])
    mdir = tmp_path / 'pose_classification_tao'
    cfg = text_format.Parse((mdir / 'config.pbtxt').read_text(), model_config_pb2.ModelConfig())
    assert cfg.name == 'pose_classification_tao' and cfg.platform == 'onnxruntime_onnx'
    assert cfg.max_batch_size == 16 and cfg.HasField('dynamic_batching')
    assert (cfg.input[0].name, cfg.input[0].data_type, list(cfg.input[0].dims)) == ('input', model_config_pb2.TYPE_FP32,
                                                                                    list(TINY_SHAPE))
    assert (cfg.output[0].name, list(cfg.output[0].dims), cfg.output[0].label_filename) == ('fc_pred', [6],
                                                                                            'labels.txt')
    assert (mdir / 'labels.txt').read_text() == '\n'.join(tiny_deploy['classes'])
    assert (mdir / '1' / 'model.onnx').read_bytes() == open(tiny_deploy['onnx'], 'rb').read()
    assert res['platform'] == 'onnxruntime_onnx'
    with pytest.raises(FileExistsError, match='--force'):
        main([tiny_deploy['onnx'], '--repo', str(tmp_path)])
    # a TensorRT engine is described by its gen_trt_engine JSON; its profile bounds max_batch_size
    engine = tmp_path / 'm.plan'
    engine.write_bytes(b'engine')
    (tmp_path / 'm.plan.json').write_text(json.dumps(dict(
        input_name='input', output_name='fc_pred', input_shape=[3, 300, 34, 1],
        profile=dict(min=[1, 3, 300, 34, 1], opt=[4, 3, 300, 34, 1], max=[8, 3, 300, 34, 1]), classes=list('abcdef'))))
    with pytest.raises(ValueError, match='exceeds the engine profile max batch 8'):
        main([str(engine), '--repo', str(tmp_path / 'trt')])
    main([str(engine), '--repo', str(tmp_path / 'trt'), '--max-batch-size', '8', '--instance-kind', 'KIND_GPU'])
    cfg = text_format.Parse((tmp_path / 'trt' / 'pose_classification_tao' / 'config.pbtxt').read_text(),
                            model_config_pb2.ModelConfig())
    assert cfg.platform == 'tensorrt_plan' and list(cfg.input[0].dims) == [3, 300, 34, 1]
    assert cfg.instance_group[0].kind == model_config_pb2.ModelInstanceGroup.KIND_GPU
    assert (tmp_path / 'trt' / 'pose_classification_tao' / '1' / 'model.plan').read_bytes() == b'engine'


@pytest.fixture(scope='module')
def triton_server(tiny_deploy, tmp_path_factory):
    """A real tritonserver on free localhost ports serving the tiny ONNX model (python backend + onnxruntime)."""
    from posecls.deploy.triton.serve import TritonServer
    from posecls.deploy.triton.triton_repo import write_triton_repository

    repo = str(tmp_path_factory.mktemp('repo'))
    write_triton_repository(tiny_deploy['onnx'], repo, platform='python')
    server = TritonServer(repo).start()
    try:
        yield server
    finally:
        server.stop()
        assert server.process is None


@needs_server
@pytest.mark.parametrize('protocol,flags', [('HTTP', []), ('grpc', ['--async']), ('grpc', ['--streaming'])])
def test_client_npy_results_txt(triton_server, tiny_deploy, tmp_path, protocol, flags):
    from posecls.tools.triton_client import main
    url = triton_server.grpc_url if protocol == 'grpc' else triton_server.http_url
    out = tmp_path / 'out'
    args = [tiny_deploy['data'], '-m', 'pose_classification_tao', '-b', '4', '-u', url, '-i', protocol,
            '--output_path', str(out)] + flags
    main(args)
    main(args)  # a second run truncates results.txt (TAO appends)
    lines = (out / 'results.txt').read_text().splitlines()
    logits = tiny_deploy['model'](__import__('torch').from_numpy(tiny_deploy['array']), mode='tensor').detach().numpy()
    assert len(lines) == len(logits) == 6
    for i, (line, row) in enumerate(zip(lines, logits)):
        parts = line.split(', ')
        assert parts[0] == str(i) and len(parts) == 7
        order = np.argsort(-row, kind='stable')
        got = [(float(p.split('(')[0]), int(p.split('(')[1].split(')')[0]), p.split('=')[1]) for p in parts[1:]]
        assert [g[1] for g in got] == list(order)
        assert [g[2] for g in got] == [tiny_deploy['classes'][k] for k in order]
        np.testing.assert_allclose([g[0] for g in got], row[order], atol=1e-4)


@needs_server
def test_client_json_results_json(triton_server, tiny_deploy, tmp_path):
    import yaml

    from posecls.deploy import init_backend
    from posecls.tools.triton_client import main
    js = make_pose_json({11: 45, 4: 25}, seed=3)
    src = tmp_path / 'demo_3dbp.json'
    src.write_text(json.dumps(js))
    conf = tmp_path / 'convert.yaml'
    conf.write_text(yaml.safe_dump({k: CONVERT[k] for k in ('sequence_length_max', 'sequence_length',
                                                            'sequence_length_min', 'sequence_overlap')}))
    with pytest.raises(SystemExit, match='--dataset_convert_config is required'):
        main([str(src), '-m', 'pose_classification_tao', '--output_path', str(tmp_path)])
    main([str(src), '--dataset_convert_config', str(conf), '-m', 'pose_classification_tao', '-u',
          triton_server.http_url, '-b', '3', '--output_path', str(tmp_path / 'out')])
    res = json.load(open(tmp_path / 'out' / 'results.json'))
    # expected output from the literal re-implementation of TAO's converter + Triton postprocessor
    windows = np.concatenate(list(tao_convert(copy.deepcopy(js), **CONVERT).values()))
    top1 = [tiny_deploy['classes'][k] for k in init_backend(tiny_deploy['onnx']).infer(windows).argmax(1)]
    rule = dict(sequence_length=20, sequence_overlap=0.5, sequence_length_min=5)
    expected = triton_results(copy.deepcopy(js), triton_segments(js, **rule), top1)
    assert res == json.loads(json.dumps(expected))
    actions = [o['action'] for o in _objects(res, 4)]
    assert actions[:10] == [''] * 10 and actions[10:] == [top1[5]] * 10 + [top1[6]] * 5
    assert all('segment_id' not in o and 'action' in o for b in res for fr in b['batches'] for o in fr['objects'])


@needs_server
def test_load_test_reports_latency_without_failures(triton_server, tmp_path):
    from posecls.tools.load_test import main
    report = main(['-u', triton_server.grpc_url, '-i', 'grpc', '-c', '3', '-n', '4', '-b', '2',
                   '--out', str(tmp_path / 'load.json')])
    assert report['requests'] == 12 and report['failed'] == 0 and report['succeeded'] == 12
    assert 0 < report['latency_ms']['p50'] <= report['latency_ms']['p99'] <= report['latency_ms']['max']
    assert report['throughput_seq_s'] > 0
    assert json.load(open(tmp_path / 'load.json'))['sequences'] == 24
    with pytest.raises(SystemExit, match='requests failed'):
        main(['-u', triton_server.http_url, '-m', 'pose_classification_tao', '-c', '1', '-n', '1', '-b', '32'])


@needs_server
def test_server_reports_startup_failure(tmp_path, monkeypatch):
    import tempfile

    from posecls.deploy.triton.serve import TritonServer
    bad = tmp_path / 'repo' / 'broken'
    (bad / '1').mkdir(parents=True)
    (bad / 'config.pbtxt').write_text('name: "broken"\nbackend: "python"\nmax_batch_size: 4\n')
    (bad / '1' / 'model.py').write_text('raise ImportError("boom")\n')
    workspaces = tmp_path / 'tmp'
    workspaces.mkdir()
    monkeypatch.setattr(tempfile, 'tempdir', str(workspaces))  # where TritonServer makes its workspace
    server = TritonServer(str(tmp_path / 'repo'), startup_timeout=60)
    with pytest.raises(RuntimeError, match='tritonserver (exited|not ready)'):
        server.start()
    assert server.process is None and server._workspace is None and not list(workspaces.iterdir())


def _listening_addresses(port):
    """Local addresses of the TCP sockets listening on ``port`` (/proc/net/tcp and tcp6; IPv4-mapped as IPv4)."""
    import ipaddress
    found = set()
    for table in ('/proc/net/tcp', '/proc/net/tcp6'):
        with open(table) as f:
            rows = [line.split() for line in f.readlines()[1:]]
        for row in rows:
            addr, hex_port = row[1].split(':')
            if row[3] != '0A' or int(hex_port, 16) != port:  # 0A: LISTEN
                continue
            raw = b''.join(bytes.fromhex(addr[i:i + 8])[::-1] for i in range(0, len(addr), 8))
            ip = ipaddress.ip_address(raw)
            found.add(str(getattr(ip, 'ipv4_mapped', None) or ip))
    return found


@needs_server
def test_server_binds_loopback_only(triton_server):
    ports = dict(http=triton_server.http_port, grpc=triton_server.grpc_port, metrics=triton_server.metrics_port)
    for name, port in ports.items():
        assert _listening_addresses(port) == {'127.0.0.1'}, f'{name} port {port}'
    assert triton_server.host == '127.0.0.1'
    assert (triton_server.http_url, triton_server.grpc_url, triton_server.metrics_url) == tuple(
        f'127.0.0.1:{p}' for p in ports.values())


def test_server_host_and_port_options_checked(tiny_deploy, tmp_path):
    from posecls.deploy.triton.serve import TritonServer
    from posecls.tools.serve import main, parse_args
    assert parse_args(['m.onnx']).host == '127.0.0.1' and parse_args(['m.onnx', '--host', '0.0.0.0']).host == '0.0.0.0'
    server = TritonServer(str(tmp_path), host='0.0.0.0', http_port=8100, grpc_port=8101, metrics_port=8102)
    cmd = server.command()
    for flag in ('--http-address=0.0.0.0', '--grpc-address=0.0.0.0', '--metrics-address=0.0.0.0',
                 '--http-port=8100', '--grpc-port=8101', '--metrics-port=8102'):
        assert flag in cmd
    assert (server.http_url, server.grpc_url, server.metrics_url) == ('0.0.0.0:8100', '0.0.0.0:8101', '0.0.0.0:8102')
    for host in ('localhost', '::1', '10.0.0', 2130706433):
        with pytest.raises(ValueError, match=f'host must be an IPv4 address .*got {host!r}'):
            TritonServer(str(tmp_path), host=host)
    with pytest.raises(ValueError, match="ports must differ, got .*'grpc_port': 8000"):
        TritonServer(str(tmp_path), http_port=8000, grpc_port=8000)
    with pytest.raises(ValueError, match='metrics_port must be an int in 0..65535 .*got 70000'):
        TritonServer(str(tmp_path), metrics_port=70000)
    with pytest.raises(ValueError, match="host must be an IPv4 address .*got 'localhost'"):  # the tool passes --host
        main([tiny_deploy['onnx'], '--host', 'localhost'])
