"""CPU latency / throughput of the full NVIDIA ST-GCN: PyTorch vs ONNX Runtime (Einsum and MatMul exports).

    python benchmarks/deploy_cpu.py [--batches 1 16] [--repeats 10] [--threads 0] [--out bench.json]

Random weights (speed does not depend on them); input (N, 3, 300, 34, 1). Reports the median latency per
batch and sequences/s. The two ONNX files are exported to a temporary folder with posecls.deploy.export_onnx.
"""
import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from typing import Callable, Dict, List

import numpy as np
import torch

from posecls.apis import init_recognizer
from posecls.deploy import export_onnx
from posecls.deploy.backends import OnnxRuntimeBackend

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def bench(fn: Callable[[], object], repeats: int) -> List[float]:
    """Seconds per call of ``fn`` (one warm-up call first)."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def main() -> Dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--batches', type=int, nargs='+', default=[1, 16])
    parser.add_argument('--repeats', type=int, default=10)
    parser.add_argument('--threads', type=int, default=0, help='torch / onnxruntime intra-op threads (0: default)')
    parser.add_argument('--out', help='write the results as JSON')
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = init_recognizer(os.path.join(REPO, 'configs', 'stgcn_nvidia.py'))
    results: Dict[str, object] = dict(cpu=platform.processor() or platform.machine(), cores=os.cpu_count(),
                                      torch=torch.__version__, torch_threads=torch.get_num_threads(), rows=[])
    with tempfile.TemporaryDirectory() as tmp:
        runners = {}
        for impl in ('einsum', 'matmul'):
            path = os.path.join(tmp, f'{impl}.onnx')
            t0 = time.perf_counter()
            rep = export_onnx(model, path, use_einsum=impl == 'einsum')
            results[f'export_{impl}_s'] = time.perf_counter() - t0
            results[f'parity_{impl}'] = rep['max_abs_diff']['random']
            runners[f'onnxruntime ({impl})'] = OnnxRuntimeBackend(path, intra_op_num_threads=args.threads)
        import onnxruntime
        results['onnxruntime'] = onnxruntime.__version__
        for batch in args.batches:
            x = np.random.default_rng(batch).standard_normal((batch, 3, 300, 34, 1)).astype(np.float32)
            xt = torch.from_numpy(x)

            def run_torch():
                with torch.no_grad():
                    return model(xt, mode='tensor')

            fns = {'pytorch (einsum)': run_torch}
            fns.update({name: (lambda b=b: b.infer(x)) for name, b in runners.items()})
            for name, fn in fns.items():
                t = bench(fn, args.repeats)
                med = statistics.median(t)
                row = dict(runtime=name, batch=batch, median_ms=med * 1e3, min_ms=min(t) * 1e3,
                           seq_per_s=batch / med)
                results['rows'].append(row)
                print(f"{name:22s} batch {batch:3d}: median {row['median_ms']:8.1f} ms  min {row['min_ms']:8.1f} ms  "
                      f"{row['seq_per_s']:7.1f} seq/s", flush=True)
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == '__main__':
    main()
