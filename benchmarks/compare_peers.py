"""posecls vs MMAction2 1.2.0's STGCN on this CPU, and every posecls backend / precision, at identical shapes.

    python benchmarks/compare_peers.py [--threads 1 2] [--repeats 5] [--parts train infer]
        [--train-shape 16 3 100 25 2] [--infer-shapes 1,3,300,25,2 16,3,100,25,2] [--calib 32] [--out r.json]

The network is ST-GCN on the 25-joint NTU RGB+D graph (spatial partition, 3 partitions), 60 classes, no dropout:
3,098,832 parameters in both frameworks (checked). MMAction2's STGCN + GCNHead are imported without the rest of
MMAction2 (``pip install mmaction2==1.2.0 --no-deps``; benchmarks/mmaction2_stgcn.py). For every thread count
all rows of a part run interleaved (one call of each per round, ``--repeats`` rounds after one warm-up call);
printed: the median per step or batch, samples/s, the speed against MMAction2 fp32 (x > 1: faster than
MMAction2), and GFLOP/s (FLOPs counted by torch's FlopCounterMode on posecls's network: a multiply-add is 2;
a training step counts forward and backward) as a share of a measured (2048^3) torch matmul peak, fp32 for
fp32 rows and bf16 for bf16 / int8 rows.

Training rows (``--train-shape``, default (16, 3, 100, 25, 2): one SGD-nesterov step = forward, cross-entropy,
backward, update, through mmengine's OptimWrapper for both frameworks; posecls through ``model.train_step`` as
its Runner calls it):

- ``mmaction2 fp32``: MMAction2's STGCN as it trains on a CPU (mmengine's AmpOptimWrapper needs a GPU).
- ``mmaction2 bf16 autocast``: the same under posecls's BF16OptimWrapper (a reference: not an MMAction2 option).
- ``posecls fp32 einsum`` / ``posecls bf16 einsum``: TAO's einsum aggregation in training (``gcn_impl='einsum'``,
  posecls before the channels-last form).
- ``posecls fp32`` / ``posecls bf16``: posecls's default ``gcn_impl='auto'`` (channels-last activations, one
  matmul over (V * K)); bf16 = BF16OptimWrapper, what ``tools/train.py --amp`` / ``--auto-amp`` use on a CPU.

Inference rows (``--infer-shapes``; eval mode, no gradients): MMAction2 fp32 / bf16 autocast, posecls eager fp32 /
bf16 autocast, ONNX Runtime (posecls's ONNX export, CPUExecutionProvider), OpenVINO f32 / bf16 / int8 (NNCF,
calibrated on ``--calib`` random inputs: a speed figure only; accuracy agreement on real data is
benchmarks/deploy_cpu.py's ``--agreement-*``). The runtimes are opened with the backend classes that
``posecls.deploy.backends.init_backend(path, backend=..., precision=...)`` builds, with an explicit thread
count; a runtime that is not installed, or bf16 on a CPU without native bf16, is skipped with the reason printed.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
from typing import Callable, Dict, List, Optional, Sequence, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [p for p in (HERE, os.path.dirname(HERE)) if p not in sys.path]

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from deploy_cpu import forward_gflop, interleaved, matmul_peak  # noqa: E402
from mmengine.optim import OptimWrapper  # noqa: E402

from posecls.engine import BF16OptimWrapper, cpu_has_native_bf16  # noqa: E402
from posecls.registry import MODELS  # noqa: E402
from posecls.structures import PoseDataSample  # noqa: E402
from posecls.utils import register_all_modules  # noqa: E402

NUM_CLASSES = 60
Shape = Tuple[int, int, int, int, int]
Step = Callable[[], object]


def posecls_model(impl: str = 'auto') -> torch.nn.Module:
    """posecls's ST-GCN recognizer on the NTU graph, no dropout (MMAction2's STGCN has none)."""
    return MODELS.build(dict(type='SkeletonRecognizer',
                             backbone=dict(type='STGCN', graph_cfg=dict(layout='ntu-rgb+d'), dropout=0.0,
                                           gcn_impl=impl),
                             cls_head=dict(type='GCNHead', num_classes=NUM_CLASSES)))


def mmaction2_model() -> Tuple[Optional[torch.nn.Module], str]:
    """MMAction2's STGCN + GCNHead, or (None, why not)."""
    try:
        from mmaction2_stgcn import MMAction2STGCN, mmaction2_version
        return MMAction2STGCN(NUM_CLASSES), mmaction2_version()
    except (ImportError, ModuleNotFoundError) as e:
        return None, f'MMAction2 rows skipped: {e}'


def sgd(model: torch.nn.Module, bf16: bool) -> OptimWrapper:
    cls = BF16OptimWrapper if bf16 else OptimWrapper
    return cls(optimizer=torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True,
                                         weight_decay=1e-4))


def posecls_train_step(x: torch.Tensor, y: torch.Tensor, impl: str, bf16: bool) -> Step:
    model = posecls_model(impl).train()
    wrapper = sgd(model, bf16)
    data = dict(inputs=x, data_samples=[PoseDataSample().set_gt_label(int(i)) for i in y])
    return lambda: model.train_step(data, wrapper)


def mmaction2_train_step(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, bf16: bool) -> Step:
    model.train()
    wrapper = sgd(model, bf16)
    xm = x.permute(0, 4, 2, 3, 1).contiguous()  # MMAction2's layout (N, M, T, V, C)

    def step():
        with wrapper.optim_context(model):
            loss = F.cross_entropy(model(xm).float(), y)
        wrapper.update_params(loss)
    return step


def train_gflop(shape: Shape) -> float:
    """GFLOP of one training step (forward + backward) of posecls's network at ``shape``."""
    from torch.utils.flop_counter import FlopCounterMode
    model = posecls_model('einsum').train()
    x, y = torch.randn(*shape), torch.zeros(shape[0], dtype=torch.long)
    counter = FlopCounterMode(display=False)
    with counter:
        F.cross_entropy(model(x), y).backward()
    return counter.get_total_flops() / 1e9


def report(part: str, shape: Shape, threads: int, times: Dict[str, List[float]], gflop: float,
           peaks: Dict[str, float], base: Optional[str]) -> List[dict]:
    """Print one markdown row per runtime; returns the rows."""
    rows = []
    ref = statistics.median(times[base]) if base in times else None
    for name, t in times.items():
        med = statistics.median(t)
        peak_kind = 'bf16' if ('bf16' in name or 'int8' in name) else 'fp32'
        gflops = gflop / med
        row = dict(part=part, shape=list(shape), threads=threads, runtime=name, median_ms=med * 1e3,
                   min_ms=min(t) * 1e3, samples_per_s=shape[0] / med, vs_mmaction2=None if ref is None else ref / med,
                   gflops=gflops, peak=peak_kind, of_peak=gflops / peaks[peak_kind])
        rows.append(row)
        vs = '-' if ref is None else f"x{row['vs_mmaction2']:.2f}"
        print(f"| {part} | {tuple(shape)} | {threads} | {name} | {row['median_ms']:.0f} | {row['samples_per_s']:.1f} "
              f"| {vs} | {gflops:.0f} | {row['of_peak']:.0%} of {peak_kind} |", flush=True)
    return rows


def run_train(shape: Shape, threads: int, repeats: int, peaks: Dict[str, float], mm: Optional[torch.nn.Module],
              bf16_ok: bool) -> List[dict]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(*shape, generator=g)
    y = torch.randint(0, NUM_CLASSES, (shape[0], ), generator=g)
    steps: Dict[str, Step] = {}
    precisions = (False, True) if bf16_ok else (False, )
    if mm is not None:
        steps['mmaction2 fp32'] = mmaction2_train_step(mm, x, y, bf16=False)
        if bf16_ok:
            steps['mmaction2 bf16 autocast'] = mmaction2_train_step(mm, x, y, bf16=True)
    for bf16 in precisions:
        p = 'bf16' if bf16 else 'fp32'
        steps[f'posecls {p} einsum'] = posecls_train_step(x, y, 'einsum', bf16)
        steps[f'posecls {p}'] = posecls_train_step(x, y, 'auto', bf16)
    times = interleaved(steps, repeats)
    return report('train', shape, threads, times, train_gflop(shape), peaks, 'mmaction2 fp32')


def backend_runtimes(model: torch.nn.Module, shape: Shape, tmp: str, threads: int, calib: int,
                     bf16_ok: bool) -> Dict[str, Callable[[np.ndarray], np.ndarray]]:
    """ONNX Runtime and OpenVINO f32 / bf16 / int8 of posecls's export at ``shape`` (skips printed)."""
    from posecls.deploy import export_onnx
    from posecls.deploy.backends import OnnxRuntimeBackend, init_backend  # noqa: F401  (init_backend: the API)
    path = os.path.join(tmp, f'stgcn_t{shape[2]}.onnx')
    export_onnx(model, path, input_shape=shape[1:])
    out = {'onnxruntime f32': OnnxRuntimeBackend(path, intra_op_num_threads=threads, precision='f32').infer}
    try:
        from posecls.deploy.backends.openvino_backend import OpenVINOBackend, cpu_supports_bf16
    except ImportError as e:
        print(f'OpenVINO rows skipped: {e}')
        return out
    try:
        out['openvino f32'] = OpenVINOBackend(path, precision='f32', num_threads=threads).infer
        if bf16_ok and cpu_supports_bf16():
            out['openvino bf16'] = OpenVINOBackend(path, precision='bf16', num_threads=threads).infer
        else:
            print('OpenVINO bf16 row skipped: this CPU has no native bf16')
    except (RuntimeError, ValueError) as e:
        print(f'OpenVINO rows skipped: {e}')
        return out
    try:
        from posecls.deploy.quantize import quantize_file
        rng = np.random.default_rng(0)
        inputs = [rng.standard_normal((1, ) + tuple(shape[1:])).astype(np.float32) for _ in range(calib)]
        int8 = quantize_file(path, inputs, tmp, 'openvino')
        out['openvino int8'] = OpenVINOBackend(int8, precision='int8', num_threads=threads).infer
    except (ImportError, RuntimeError, ValueError) as e:
        print(f'OpenVINO int8 row skipped: {e}')
    return out


def run_infer(shape: Shape, threads: int, repeats: int, peaks: Dict[str, float], mm: Optional[torch.nn.Module],
              bf16_ok: bool, calib: int) -> List[dict]:
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(1))
    xn = x.numpy()
    model = posecls_model().eval()
    fns: Dict[str, Step] = {}

    def eager(m: torch.nn.Module, inp: torch.Tensor, bf16: bool) -> Step:
        def run():
            with torch.inference_mode(), torch.autocast('cpu', dtype=torch.bfloat16, enabled=bf16):
                return m(inp)
        return run

    if mm is not None:
        mm.eval()
        xm = x.permute(0, 4, 2, 3, 1).contiguous()
        fns['mmaction2 fp32'] = eager(mm, xm, False)
        if bf16_ok:
            fns['mmaction2 bf16 autocast'] = eager(mm, xm, True)
    fns['posecls eager fp32'] = eager(model, x, False)
    if bf16_ok:
        fns['posecls eager bf16 autocast'] = eager(model, x, True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, infer in backend_runtimes(model, shape, tmp, threads, calib, bf16_ok).items():
            fns[name] = (lambda f=infer: f(xn))
        times = interleaved(fns, repeats)
    gflop = forward_gflop(model, shape[1:]) * shape[0]
    return report('infer', shape, threads, times, gflop, peaks, 'mmaction2 fp32')


def parse_shape(text: str) -> Shape:
    dims = tuple(int(d) for d in text.split(','))
    if len(dims) != 5 or dims[1] != 3 or dims[3] != 25:
        raise argparse.ArgumentTypeError(f'a shape is N,3,T,25,M (the NTU graph has 25 joints), got {text!r}')
    return dims


def main(argv: Optional[Sequence[str]] = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--threads', type=int, nargs='+', default=[1, 2], help='torch / runtime thread counts')
    parser.add_argument('--repeats', type=int, default=5, help='interleaved rounds after one warm-up call')
    parser.add_argument('--parts', nargs='+', default=['train', 'infer'], choices=['train', 'infer'])
    parser.add_argument('--train-shape', type=parse_shape, default=(16, 3, 100, 25, 2), help='N,C,T,V,M')
    parser.add_argument('--infer-shapes', type=parse_shape, nargs='+',
                        default=[(1, 3, 300, 25, 2), (16, 3, 100, 25, 2)], help='N,C,T,V,M ...')
    parser.add_argument('--calib', type=int, default=32, help='random calibration inputs of the int8 model')
    parser.add_argument('--out', help='write the rows as JSON')
    args = parser.parse_args(argv)
    register_all_modules()
    torch.manual_seed(0)
    mm, mm_version = mmaction2_model()
    if mm is None:
        print(mm_version)
    else:
        n_mm, n_pc = (sum(p.numel() for p in m.parameters()) for m in (mm, posecls_model()))
        if n_mm != n_pc:
            raise SystemExit(f'the networks differ: MMAction2 {n_mm} parameters, posecls {n_pc}')
    bf16_ok = cpu_has_native_bf16()
    if not bf16_ok:
        print('bf16 rows skipped: this CPU has no native bf16 (AVX512-BF16 / AMX); it would be emulated')
    results = dict(cpu=platform.processor() or platform.machine(), cores=os.cpu_count(), torch=torch.__version__,
                   mmaction2=mm_version if mm is not None else None, load_average=os.getloadavg(), rows=[])
    print(f"torch {torch.__version__}, MMAction2 {results['mmaction2']}, {os.cpu_count()} CPUs, load average "
          f"{' '.join(f'{v:.1f}' for v in results['load_average'])}")
    print('| part | shape (N, C, T, V, M) | threads | runtime | median ms | samples/s | vs MMAction2 fp32 | GFLOP/s '
          '| of peak |')
    print('|---|---|---|---|---|---|---|---|---|')
    for threads in args.threads:
        torch.set_num_threads(threads)
        peaks = {'fp32': matmul_peak(torch.float32), 'bf16': matmul_peak(torch.bfloat16)}
        results.setdefault('matmul_peak_gflops', {})[threads] = peaks
        print(f"| peak | 2048^3 matmul | {threads} | fp32 {peaks['fp32']:.0f}, bf16 {peaks['bf16']:.0f} GFLOP/s "
              '| | | | | |', flush=True)
        if 'train' in args.parts:
            results['rows'] += run_train(args.train_shape, threads, args.repeats, peaks, mm, bf16_ok)
        if 'infer' in args.parts:
            for shape in args.infer_shapes:
                results['rows'] += run_infer(shape, threads, args.repeats, peaks, mm, bf16_ok, args.calib)
    results['load_average_end'] = os.getloadavg()
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == '__main__':
    main()
