"""Export folding on the full TAO ST-GCN: ONNX nodes, initializers, file size and ONNX Runtime latency, folded vs not.

    python benchmarks/bench_export_folding.py [--batches 1 16] [--repeats 9] [--threads 0] [--out bench.json]

The model is ``configs/stgcn_nvidia.py`` (input (N, 3, 300, 34, 1)) with random weights made to look trained
(edge importances drawn from U(0.5, 1.5), BatchNorm statistics calibrated on random batches), so every folded
constant is a real one; speed does not depend on the values. Four files are exported with
:func:`posecls.deploy.export_onnx` (Einsum and MatMul form, ``fold=False`` and the default ``fold=True``), each
verified against PyTorch. Latency: one warm-up call per file and batch, then ``--repeats`` rounds, each round
running every file once in turn (interleaved A/B), reported as the median of the rounds.
"""
import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from typing import Dict, List

import numpy as np
import torch

from posecls.apis import init_recognizer
from posecls.deploy import export_onnx
from posecls.deploy.backends import OnnxRuntimeBackend

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def trained_looking_model() -> torch.nn.Module:
    """configs/stgcn_nvidia.py with learned-looking edge importances and BatchNorm statistics (eval mode)."""
    torch.manual_seed(0)
    model = init_recognizer(os.path.join(REPO, 'configs', 'stgcn_nvidia.py'))
    with torch.no_grad():
        for ei in model.backbone.edge_importance:
            ei.uniform_(0.5, 1.5)
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.momentum = None
        model.train()
        for _ in range(2):
            model(torch.randn(4, 3, 300, 34, 1), mode='tensor')
    return model.eval()


def main() -> Dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--batches', type=int, nargs='+', default=[1, 16])
    parser.add_argument('--repeats', type=int, default=9)
    parser.add_argument('--threads', type=int, default=0, help='onnxruntime intra-op threads (0: its default)')
    parser.add_argument('--out', help='write the results as JSON')
    args = parser.parse_args()
    model = trained_looking_model()
    results: Dict[str, object] = dict(cpu=platform.processor() or platform.machine(), cores=os.cpu_count(),
                                      repeats=args.repeats, rows=[])
    with tempfile.TemporaryDirectory() as tmp:
        runners = {}
        for impl in ('einsum', 'matmul'):
            for fold in (False, True):
                name = f"{impl}, {'folded' if fold else 'not folded'}"
                path = os.path.join(tmp, f'{impl}_{fold}.onnx')
                t0 = time.perf_counter()
                rep = export_onnx(model, path, use_einsum=impl == 'einsum', fold=fold, atol=1e-5)
                row = dict(name=name, export_s=time.perf_counter() - t0, nodes=rep['num_nodes'],
                           initializers=rep['num_initializers'], file_bytes=rep['file_bytes'],
                           max_abs_diff=rep['max_abs_diff']['random'], node_types=rep['node_types'], latency_s={})
                results['rows'].append(row)
                runners[name] = (OnnxRuntimeBackend(path, intra_op_num_threads=args.threads), row)
                print(f"{name}: {row['nodes']} nodes, {row['initializers']} initializers, "
                      f"{row['file_bytes'] / 1e6:.3f} MB, parity {row['max_abs_diff']:.2g}", flush=True)
        rng = np.random.default_rng(0)
        for batch in args.batches:
            x = rng.standard_normal((batch, 3, 300, 34, 1)).astype(np.float32)
            times: Dict[str, List[float]] = {name: [] for name in runners}
            for backend, _ in runners.values():
                backend.infer(x)  # warm-up
            for _ in range(args.repeats):
                for name, (backend, _) in runners.items():
                    t0 = time.perf_counter()
                    backend.infer(x)
                    times[name].append(time.perf_counter() - t0)
            for name, (_, row) in runners.items():
                row['latency_s'][str(batch)] = statistics.median(times[name])
                print(f'batch {batch:3d}  {name:24s} median {1e3 * row["latency_s"][str(batch)]:8.1f} ms', flush=True)
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == '__main__':
    main()
