"""CPU latency / throughput of the full NVIDIA ST-GCN: PyTorch vs ONNX Runtime vs OpenVINO (f32, bf16, int8).

    python benchmarks/deploy_cpu.py [--batches 1 16] [--repeats 10] [--threads 0] [--out bench.json]
    python benchmarks/deploy_cpu.py --openvino --repeats 5 \
        --agreement-config work_dirs/ucla_short/stgcn_joint_short.py \
        --agreement-checkpoint work_dirs/ucla_short/run/pc_model_latest.pth --out bench.json

Random weights (speed does not depend on them); input (N, 3, 300, 34, 1). Every runtime runs once per round, rounds
interleaved (A B C A B C ...), one warm-up call each; reported: the median per batch, sequences/s, the speed-up over
eager PyTorch fp32 and GFLOP/s (FLOPs counted by torch's FlopCounterMode, one multiply-add = 2) against a measured
torch matmul peak (fp32 and bf16, 2048^3). The ONNX files are exported to a temporary folder with
posecls.deploy.export_onnx, in both forms (TAO's Einsum graph and the matmul form, ``--no-einsum``). ``--openvino``
adds OpenVINO f32 / bf16 (INFERENCE_PRECISION_HINT) and an INT8 IR of the matmul form (and bf16 of the Einsum graph,
for comparison), quantized with NNCF (:func:`posecls.deploy.quantize.quantize_file`, input stage in float;
calibrated on 32 random inputs: a speed figure only). ``--agreement-*`` measures top-1 agreement with eager PyTorch
fp32 on real data: the model is exported (matmul form), quantized by :func:`posecls.deploy.quantize.quantize_model`
(calibrated on its training set through the config's test pipeline) and every runtime classifies the config's test
set through the inference loop. ``--accuracy-control AGREEMENT`` adds that model quantized with accuracy control
(``posecls-quantize --accuracy-control``) to the agreement rows, and times the full model's INT8 IR with the layers
it reverted left in float as well (``openvino int8 (ac)``: same layer names in both exports).
"""
import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)  # configs' custom_imports (projects.*) resolve from the repository

from posecls.apis import init_recognizer  # noqa: E402
from posecls.deploy import export_onnx  # noqa: E402
from posecls.deploy.backends import OnnxRuntimeBackend  # noqa: E402


def interleaved(fns: Dict[str, Callable[[], object]], repeats: int) -> Dict[str, List[float]]:
    """Seconds per call of every ``fn``: one warm-up call each, then ``repeats`` rounds calling each once."""
    for fn in fns.values():
        fn()
    times: Dict[str, List[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return times


def matmul_peak(dtype: torch.dtype, n: int = 2048, repeats: int = 5) -> float:
    """Measured GFLOP/s of an (n, n) @ (n, n) torch matmul in ``dtype`` (best of ``repeats``)."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2 * n ** 3 / best / 1e9


def _timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def forward_gflop(model: torch.nn.Module, shape: tuple) -> float:
    """GFLOP of one forward pass of a (1, C, T, V, M) input (torch's FlopCounterMode: a multiply-add is 2)."""
    from torch.utils.flop_counter import FlopCounterMode
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(torch.zeros((1, ) + tuple(shape)), mode='tensor')
    return counter.get_total_flops() / 1e9


def openvino_runtimes(onnx_file: str, tmp: str, threads: int, reverted: Sequence[str] = ()) -> Dict[str, object]:
    """OpenVINO f32 / bf16 (when the CPU has it) / int8 backends of ``onnx_file``; with ``reverted`` (the layers
    accuracy control reverted to float in the ``--agreement-*`` model), also that int8 model's configuration."""
    from posecls.deploy.backends.openvino_backend import OpenVINOBackend, cpu_supports_bf16
    from posecls.deploy.quantize import quantize_file
    out = {'openvino f32': OpenVINOBackend(onnx_file, precision='f32', num_threads=threads)}
    if cpu_supports_bf16():
        out['openvino bf16'] = OpenVINOBackend(onnx_file, precision='bf16', num_threads=threads)
    rng = np.random.default_rng(0)
    calib = [rng.standard_normal((1, 3, 300, 34, 1)).astype(np.float32) for _ in range(32)]
    int8 = quantize_file(onnx_file, calib, tmp, 'openvino')
    out['openvino int8'] = OpenVINOBackend(int8, precision='int8', num_threads=threads)
    if reverted:
        folder = os.path.join(tmp, 'accuracy_control')
        os.makedirs(folder, exist_ok=True)
        int8 = quantize_file(onnx_file, calib, folder, 'openvino', keep_float=reverted)
        out['openvino int8 (ac)'] = OpenVINOBackend(int8, precision='int8', num_threads=threads)
    return out


def agreement(config: str, checkpoint: str, tmp: str, accuracy_control: Optional[float] = None) -> Dict[str, object]:
    """Top-1 agreement with eager PyTorch fp32 (and accuracy) of every runtime on the config's test set; with
    ``accuracy_control``, also of the INT8 model quantized with it (``openvino int8 (ac)``)."""
    from posecls.apis import inference_recognizer, init_model
    from posecls.datasets.label_io import load_label_file
    from posecls.deploy.export_onnx import export_checkpoint
    from posecls.deploy.quantize import quantize_model
    from posecls.deploy.verify import max_abs_diff
    from posecls.tools.common import load_config
    cfg = load_config(config)
    onnx_file = os.path.join(tmp, 'agreement.onnx')
    export_checkpoint(cfg, checkpoint, onnx_file, use_einsum=False)
    int8_file = os.path.join(tmp, 'agreement_int8.xml')
    q = quantize_model(cfg, onnx_file, int8_file, min_agreement=0.0, echo=False)
    ac = None
    if accuracy_control is not None:
        ac_file = os.path.join(tmp, 'agreement_int8_ac.xml')
        ac = quantize_model(cfg, onnx_file, ac_file, min_agreement=0.0, accuracy_control=accuracy_control,
                            echo=False)
    data, labels = cfg.test_dataloader.dataset.data_path, cfg.test_dataloader.dataset.label_path
    y = np.asarray(load_label_file(labels)[1])
    models = {'pytorch fp32': init_model(cfg, checkpoint), 'onnxruntime': init_model(cfg, onnx_file),
              'openvino f32': init_model(cfg, onnx_file, backend='openvino', precision='f32'),
              'openvino bf16': init_model(cfg, onnx_file, backend='openvino', precision='bf16'),
              'openvino int8': init_model(cfg, int8_file)}
    if ac is not None:
        models['openvino int8 (ac)'] = init_model(cfg, ac_file)
    logits = {name: inference_recognizer(m, data) for name, m in models.items()}
    ref = logits['pytorch fp32']
    rows = {name: dict(top1_agreement=float((v.argmax(1) == ref.argmax(1)).mean()),
                       accuracy=float((v.argmax(1) == y).mean()), max_abs_logit_diff=max_abs_diff(v, ref))
            for name, v in logits.items()}
    out = dict(config=config, checkpoint=checkpoint, data=data, num=int(len(y)), rows=rows,
               quantize=dict(agreement=q['agreement'], num_calib=q['num_calib'], calib_data=q['calib_data']))
    if ac is not None:
        out['accuracy_control'] = {k: ac[k] for k in ('accuracy_control', 'control_data', 'num_control',
                                                      'control_agreement', 'reverted_layers', 'agreement', 'seconds')}
    return out


def main() -> Dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--batches', type=int, nargs='+', default=[1, 16])
    parser.add_argument('--repeats', type=int, default=10)
    parser.add_argument('--threads', type=int, default=0, help='torch / runtime intra-op threads (0: default)')
    parser.add_argument('--openvino', action='store_true', help='also OpenVINO f32 / bf16 / int8')
    parser.add_argument('--no-matmul-export', action='store_true', help='skip the MatMul-form ONNX Runtime row')
    parser.add_argument('--agreement-config', help='config of a trained model for the top-1 agreement on real data')
    parser.add_argument('--agreement-checkpoint', help='its checkpoint')
    parser.add_argument('--accuracy-control', type=float, metavar='AGREEMENT',
                        help="with --agreement-*: also quantize that model with accuracy control (posecls-quantize "
                        "--accuracy-control AGREEMENT), and time the full model's INT8 IR with the layers it "
                        "reverted left in float too ('openvino int8 (ac)')")
    parser.add_argument('--out', help='write the results as JSON')
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = init_recognizer(os.path.join(REPO, 'configs', 'stgcn_nvidia.py'))
    results: Dict[str, object] = dict(cpu=platform.processor() or platform.machine(), cores=os.cpu_count(),
                                      torch=torch.__version__, torch_threads=torch.get_num_threads(), rows=[])
    gflop = forward_gflop(model, (3, 300, 34, 1))
    peaks = {'fp32': matmul_peak(torch.float32), 'bf16': matmul_peak(torch.bfloat16)}
    results.update(gflop_per_sequence=gflop, matmul_peak_gflops=peaks)
    print(f'forward: {gflop:.2f} GFLOP per sequence; matmul peak fp32 {peaks["fp32"]:.0f} GFLOP/s, bf16 '
          f'{peaks["bf16"]:.0f} GFLOP/s', flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        agreed = None
        if args.agreement_config and args.agreement_checkpoint:  # first: accuracy control names layers to time
            agreed = agreement(args.agreement_config, args.agreement_checkpoint, tmp, args.accuracy_control)
            results['agreement'] = agreed
        reverted = (agreed or {}).get('accuracy_control', {}).get('reverted_layers', [])
        runners: Dict[str, object] = {}
        impls = ('einsum', ) if args.no_matmul_export else ('einsum', 'matmul')
        for impl in impls:
            path = os.path.join(tmp, f'{impl}.onnx')
            t0 = time.perf_counter()
            rep = export_onnx(model, path, use_einsum=impl == 'einsum')
            results[f'export_{impl}_s'] = time.perf_counter() - t0
            results[f'parity_{impl}'] = rep['max_abs_diff']['random']
            runners[f'onnxruntime ({impl})'] = OnnxRuntimeBackend(path, intra_op_num_threads=args.threads)
        import onnxruntime
        results['onnxruntime'] = onnxruntime.__version__
        if args.openvino:
            import openvino
            results['openvino'] = openvino.__version__
            runners.update(openvino_runtimes(os.path.join(tmp, f'{impls[-1]}.onnx'), tmp, args.threads, reverted))
            if len(impls) > 1:  # OpenVINO on TAO's Einsum graph, for comparison
                from posecls.deploy.backends.openvino_backend import OpenVINOBackend, cpu_supports_bf16
                if cpu_supports_bf16():
                    runners['openvino bf16 (einsum)'] = OpenVINOBackend(os.path.join(tmp, 'einsum.onnx'),
                                                                       precision='bf16', num_threads=args.threads)
        for batch in args.batches:
            x = np.random.default_rng(batch).standard_normal((batch, 3, 300, 34, 1)).astype(np.float32)
            xt = torch.from_numpy(x)

            def run_torch():
                with torch.no_grad():
                    return model(xt, mode='tensor')

            fns = {'pytorch fp32 (eager)': run_torch}
            fns.update({name: (lambda b=b: b.infer(x)) for name, b in runners.items()})
            times = interleaved(fns, args.repeats)
            base = statistics.median(times['pytorch fp32 (eager)'])
            for name, t in times.items():
                med = statistics.median(t)
                row = dict(runtime=name, batch=batch, median_ms=med * 1e3, min_ms=min(t) * 1e3,
                           seq_per_s=batch / med, speedup=base / med, gflops=gflop * batch / med)
                peak = peaks['bf16' if ('bf16' in name or 'int8' in name) else 'fp32']
                row['of_peak'] = row['gflops'] / peak
                results['rows'].append(row)
                print(f"{name:22s} batch {batch:3d}: median {row['median_ms']:8.1f} ms  min {row['min_ms']:8.1f} ms  "
                      f"{row['seq_per_s']:7.1f} seq/s  x{row['speedup']:.2f}  {row['gflops']:6.0f} GFLOP/s "
                      f"({row['of_peak']:.0%} of the {'bf16' if peak == peaks['bf16'] else 'fp32'} peak)", flush=True)
        if agreed is not None:
            print(f"top-1 agreement with eager PyTorch fp32 on {agreed['num']} sequences of {agreed['data']}:",
                  flush=True)
            for name, r in agreed['rows'].items():
                print(f"  {name:18s} agreement {r['top1_agreement']:.2%}  accuracy {r['accuracy']:.2%}  "
                      f"max |logit diff| {r['max_abs_logit_diff']:.3g}", flush=True)
            if 'accuracy_control' in agreed:
                ac = agreed['accuracy_control']
                print(f"  accuracy control (target {ac['accuracy_control']:.2%}): {len(ac['reverted_layers'])} layers "
                      f"reverted to float, agreement {ac['control_agreement']:.2%} on {ac['num_control']} held-out "
                      f"inputs from {ac['control_data']}, {ac['seconds']:.0f} s: {ac['reverted_layers']}", flush=True)
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == '__main__':
    main()
