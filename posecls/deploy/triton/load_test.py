"""Bounded load test of a Triton pose classification model: N concurrent clients x M requests."""
import threading
import time
from typing import Any, Dict, List

import numpy as np

from .triton_client import client_module, parse_model


def run_load_test(url: str, model_name: str, protocol: str = 'http', concurrency: int = 4, requests: int = 10,
                  batch_size: int = 1, seed: int = 0, timeout_s: float = 300.0) -> Dict[str, Any]:
    """Each of ``concurrency`` threads (own client) sends ``requests`` inference requests of ``batch_size``.

    Args:
        url: ``host:port`` of the server (HTTP or gRPC port matching ``protocol``).
        model_name: Served model.
        protocol: ``http`` or ``grpc``.
        concurrency: Concurrent clients (1..256).
        requests: Requests per client (1..100000).
        batch_size: Sequences per request.
        seed: Seed of the random input sequences.
        timeout_s: Overall limit; the test fails when exceeded.

    Returns:
        dict: ``requests``, ``failed``, ``errors`` (first 5), ``sequences``, ``wall_s``,
        ``throughput_seq_s``, ``throughput_req_s``, ``latency_ms`` {p50, p90, p99, mean, max}.
    """
    if not 1 <= concurrency <= 256 or not 1 <= requests <= 100000 or batch_size < 1:
        raise ValueError(f'need 1 <= concurrency <= 256, 1 <= requests <= 100000, batch_size >= 1; got '
                         f'{concurrency}, {requests}, {batch_size}')
    mod = client_module(protocol)
    probe = mod.InferenceServerClient(url=url)
    try:
        model = parse_model(probe, protocol, model_name)
    finally:
        probe.close()
    x = np.random.default_rng(seed).standard_normal((batch_size, *model['input_shape'])).astype(np.float32)
    latencies: List[List[float]] = [[] for _ in range(concurrency)]
    errors: List[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + timeout_s

    def worker(k: int) -> None:
        client = mod.InferenceServerClient(url=url)
        try:
            inp = mod.InferInput(model['input_name'], list(x.shape), 'FP32')
            inp.set_data_from_numpy(x)
            out = [mod.InferRequestedOutput(model['output_name'])]
            for _ in range(requests):
                if time.monotonic() > deadline:
                    with lock:
                        errors.append('timeout')
                    return
                t0 = time.perf_counter()
                try:
                    res = client.infer(model_name, [inp], outputs=out)
                    logits = res.as_numpy(model['output_name'])
                    if logits is None or logits.shape[0] != batch_size:
                        raise RuntimeError(f'bad output shape {None if logits is None else logits.shape}')
                except Exception as e:  # noqa: BLE001 - counted as a failed request
                    with lock:
                        errors.append(repr(e))
                    continue
                latencies[k].append(time.perf_counter() - t0)
        finally:
            client.close()

    threads = [threading.Thread(target=worker, args=(k, ), daemon=True) for k in range(concurrency)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()) + 5)
    wall = time.perf_counter() - t0
    lat = np.array([v for per in latencies for v in per]) * 1e3
    total = concurrency * requests
    done = int(lat.size)
    pct = (lambda q: float(np.percentile(lat, q)) if done else float('nan'))  # noqa: E731
    return dict(url=url, protocol=protocol, model=model_name, concurrency=concurrency, requests=total,
                batch_size=batch_size, succeeded=done, failed=total - done, errors=errors[:5],
                sequences=done * batch_size, wall_s=wall, throughput_req_s=done / wall if wall else 0.0,
                throughput_seq_s=done * batch_size / wall if wall else 0.0,
                latency_ms=dict(p50=pct(50), p90=pct(90), p99=pct(99), mean=float(lat.mean()) if done else float('nan'),
                                max=float(lat.max()) if done else float('nan')))


def format_load_report(r: Dict[str, Any]) -> str:
    """One-paragraph summary of :func:`run_load_test`."""
    lat = r['latency_ms']
    return (f"{r['model']} @ {r['url']} ({r['protocol']}): {r['concurrency']} clients x "
            f"{r['requests'] // r['concurrency']} requests x batch {r['batch_size']}: {r['succeeded']}/{r['requests']} "
            f"ok, {r['failed']} failed, {r['wall_s']:.2f} s, {r['throughput_seq_s']:.1f} seq/s "
            f"({r['throughput_req_s']:.1f} req/s), latency p50 {lat['p50']:.1f} ms, p90 {lat['p90']:.1f} ms, "
            f"p99 {lat['p99']:.1f} ms, max {lat['max']:.1f} ms")
