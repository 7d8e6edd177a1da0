"""Live streaming on this CPU: sustained tracks x 30 fps and latency message arrival -> published action, per backend.

    python benchmarks/bench_stream.py [--models full small] [--backends pytorch onnxruntime openvino]
        [--tracks 1 2 5 10 20] [--seconds 20] [--stride 30] [--max-batch 2] [--out bench_stream.json]

A real mosquitto broker runs on 127.0.0.1 (posecls.streaming.broker). For each model and backend, ``tools/stream.py``
runs as its own process, subscribed to ``mqtt://127.0.0.1:PORT/bench/in`` and publishing its actions to
``.../bench/out``. This process publishes one DeepStream batch element per frame at 30 fps (``--tracks`` people in
every frame, random 34-joint poses in DeepStream's ``%f`` format, ``ntp_timestamp`` = the wall clock) for
``--seconds``; track k enters ``k * 30 / tracks`` frames after the first, so the tracks fall due at different
frames (the harder case for batching). Each action's latency is the time it is received here minus the time its
frame was published (both ends in this process, so broker hops both ways are included). A run *keeps up* when every
expected action (one per ``--stride`` appearances per track) arrives and the p99 latency is below 1 s; the tracks
ladder stops at the first count that does not keep up.

Models (random weights: speed does not depend on them): ``full`` = configs/stgcn_nvidia.py (TAO's ST-GCN, 3.1 M
parameters, T = 300, windows of 100 appearances), ``small`` = configs/stgcn_nvidia_sample.py (base_channels 16,
T = 100, windows of 100). Backends: ``pytorch`` (the .pth, eager), ``onnxruntime`` (the ONNX export),
``openvino`` (the ONNX export with ``--backend openvino``; only when ``import openvino`` works and posecls's
init_backend takes ``backend``).
"""
import argparse
import importlib.util
import inspect
import json
import os
import os.path as osp
import platform
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Dict, List

import numpy as np

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

from posecls.streaming.broker import LocalBroker  # noqa: E402

FPS = 30
MODELS = {'full': ('configs/stgcn_nvidia.py', 300), 'small': ('configs/stgcn_nvidia_sample.py', 100)}


def prepare_model(name: str, workdir: str) -> Dict[str, str]:
    """Random-weight checkpoint, config copy and ONNX export of one model."""
    import torch

    from posecls.apis import init_recognizer
    from posecls.deploy import export_onnx
    cfg_rel, T = MODELS[name]
    torch.manual_seed(0)
    model = init_recognizer(osp.join(REPO, cfg_rel))
    cfg_file = osp.join(workdir, f'{name}_cfg.py')
    model.cfg.dump(cfg_file)
    ckpt = osp.join(workdir, f'{name}.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {'dataset_meta': dict(model.dataset_meta)}}, ckpt)
    onnx_file = osp.join(workdir, f'{name}.onnx')
    # the matmul form (--no-einsum): the fastest on CPU runtimes (docs/benchmarks.md, "Export forms")
    export_onnx(model, onnx_file, input_shape=(3, T, 34, 1), use_einsum=False)
    return dict(cfg=cfg_file, pth=ckpt, onnx=onnx_file, T=str(T))


def openvino_usable() -> bool:
    """``import openvino`` works and init_backend takes a ``backend`` argument."""
    if importlib.util.find_spec('openvino') is None:
        return False
    from posecls.deploy.backends import init_backend
    return 'backend' in inspect.signature(init_backend).parameters


def payloads(tracks: int, seconds: float, rng: np.random.Generator) -> List[bytes]:
    """One batch element per frame (``ntp_timestamp`` filled in when it is sent: the ``%NTP%`` placeholder)."""
    frames = int(seconds * FPS)
    offset = [int(k * FPS / tracks) for k in range(tracks)]
    ids = [1000 + k for k in range(tracks)]
    poses = {oid: rng.uniform(-1000, 1000, size=(8, 136)) for oid in ids}  # a few poses per track, cycled
    for p in poses.values():
        p[:, 3::4] = rng.uniform(0.1, 1.0, size=(8, 34))
    out = []
    for fn in range(frames):
        objs = []
        for k, oid in enumerate(ids):
            if fn < offset[k]:
                continue
            a = ', '.join(f'{v:f}' for v in poses[oid][fn % 8])
            objs.append(f'{{"object_id": {oid}, "pose25d": [{a}], "pose3d": [{a}]}}')
        out.append(('{"num_frames_in_batch": 1, "batches": [{"batch_id": 0, "frame_num": %d, "ntp_timestamp": %%NTP%%, '
                    '"num_obj_meta": %d, "objects": [%s]}]}' % (fn, len(objs), ', '.join(objs))).encode())
    return out


def expected_actions(tracks: int, seconds: float, stride: int) -> int:
    frames = int(seconds * FPS)
    return sum((frames - int(k * FPS / tracks)) // stride for k in range(tracks))


def run_once(broker: LocalBroker, model: Dict[str, str], backend: str, tracks: int, seconds: float, stride: int,
             workdir: str, max_batch: int = 2, openvino_precision: str = 'bf16') -> Dict[str, Any]:
    """One stream process, ``tracks`` people at 30 fps for ``seconds``; latency and completeness."""
    import paho.mqtt.client as mqtt
    tag = f'{backend}-{tracks}-{time.monotonic_ns()}'
    summary = osp.join(workdir, f'{tag}.json')
    ckpt = model['pth'] if backend == 'pytorch' else model['onnx']
    cmd = [sys.executable, osp.join(REPO, 'tools', 'stream.py'), model['cfg'], ckpt, '--source',
           f'{broker.url}/bench/in/{tag}', '--out', os.devnull, '--mqtt-out', f'{broker.url}/bench/out/{tag}',
           '--stride', str(stride), '--sequence-length', '100', '--sequence-length-max', model['T'],
           '--idle-timeout', '5', '--summary-json', summary, '--max-batch', str(max_batch)]
    if backend == 'openvino':
        cmd += ['--backend', 'openvino', '--precision', openvino_precision]
    subacks = broker.log_count('Sending SUBACK to posecls-source')
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    sent: Dict[int, float] = {}
    got: List[float] = []
    lock = threading.Lock()

    def on_message(client, userdata, msg) -> None:
        now = time.monotonic()
        fn = json.loads(msg.payload)['frame_num']
        with lock:
            got.append(now - sent[fn])

    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f'bench-sub-{tag}')
    sub.on_message = on_message
    sub.connect('127.0.0.1', broker.port)
    sub.subscribe(f'bench/out/{tag}')
    sub.loop_start()
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f'bench-pub-{tag}')
    pub.connect('127.0.0.1', broker.port)
    pub.loop_start()
    msgs = payloads(tracks, seconds, np.random.default_rng(tracks))
    deadline = time.monotonic() + 120
    while broker.log_count('Sending SUBACK to posecls-source') <= subacks:  # the stream subscribed
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError(f'the stream did not subscribe: {proc.stderr.read() if proc.poll() is not None else ""}')
        time.sleep(0.05)
    t0 = time.monotonic()
    for fn, text in enumerate(msgs):
        target = t0 + fn / FPS
        while (d := target - time.monotonic()) > 0:
            time.sleep(d)
        sent[fn] = time.monotonic()
        pub.publish(f'bench/in/{tag}', text.replace(b'%NTP%', str(time.time_ns()).encode()))
    late = time.monotonic() - (t0 + (len(msgs) - 1) / FPS)
    err = proc.communicate(timeout=600)[1]
    time.sleep(0.5)
    sub.loop_stop()
    pub.loop_stop()
    want = expected_actions(tracks, seconds, stride)
    with lock:
        lat = np.asarray(got) * 1e3
    res: Dict[str, Any] = dict(backend=backend, tracks=tracks, fps=FPS, seconds=seconds, stride=stride,
                               max_batch=max_batch, expected=want, received=len(lat), publisher_late_s=round(late, 3))
    if proc.returncode != 0:
        res['error'] = err[-2000:]
    if len(lat):
        res.update(p50_ms=float(np.percentile(lat, 50)), p99_ms=float(np.percentile(lat, 99)),
                   max_ms=float(lat.max()), actions_per_s=len(lat) / seconds)
    if osp.isfile(summary):
        s = json.load(open(summary))
        res['stream'] = {k: s[k] for k in ('model_calls', 'emissions', 'malformed', 'latency_p50_ms',
                                           'latency_p99_ms')}
    res['keeps_up'] = bool(len(lat) == want and res.get('p99_ms', 1e9) < 1000 and 'error' not in res)
    return res


def main() -> Dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--models', nargs='+', default=['full', 'small'], choices=sorted(MODELS))
    parser.add_argument('--backends', nargs='+', default=['pytorch', 'onnxruntime', 'openvino'],
                        choices=['pytorch', 'onnxruntime', 'openvino'])
    parser.add_argument('--tracks', type=int, nargs='+', default=[1, 2, 5, 10, 20])
    parser.add_argument('--seconds', type=float, default=20.0)
    parser.add_argument('--stride', type=int, default=30)
    parser.add_argument('--max-batch', type=int, default=2, help="the stream's --max-batch (windows per model call)")
    parser.add_argument('--openvino-precision', choices=('f32', 'bf16'), default='bf16',
                        help="precision of the openvino rows (bf16 needs AVX512-BF16 / AMX; default bf16)")
    parser.add_argument('--out', help='write the results as JSON')
    args = parser.parse_args()
    backends = [b for b in args.backends if b != 'openvino' or openvino_usable()]
    results: Dict[str, Any] = dict(machine=platform.processor() or platform.machine(), cores=os.cpu_count(),
                                   load_before=os.getloadavg(), runs=[])
    with tempfile.TemporaryDirectory() as tmp, LocalBroker(workdir=tmp) as broker:
        for name in args.models:
            model = prepare_model(name, tmp)
            for backend in backends:
                for n in args.tracks:
                    r = run_once(broker, model, backend, n, args.seconds, args.stride, tmp, args.max_batch,
                                 args.openvino_precision)
                    r['model'] = name
                    results['runs'].append(r)
                    print(json.dumps(r), flush=True)
                    if not r['keeps_up']:
                        break
    results['load_after'] = os.getloadavg()
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == '__main__':
    main()
