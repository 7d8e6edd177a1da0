"""CPU/GPU throughput of posecls's GCN backbones at the shapes of the peers' published baselines.

Cases (docs/reference.md §P.3.5, measured for MMAction2 on a 2-core CPU):
  infer_ntu   B16 M2 T100 V25 inference            (MMAction2 STGCN: 5.2 samples/s, ST-GCN++ 4.9)
  latency_ntu B1  M2 T300 V25 inference latency     (MMAction2 STGCN: 352 ms eager)
  train_coco  B16 M2 T100 V17 SGD-nesterov step     (MMAction2 STGCN: 2.9 samples/s)
  infer_nv    B16 M1 T300 V34 inference (the TAO NVIDIA model)
  train_nv    B16 M1 T300 V34 training step
  infer_ucla  B16 M1 T52  V20 inference (the NW-UCLA recipes, configs/nwucla)
  train_ucla  B16 M1 T52  V20 training step

Usage: python benchmarks/bench_stgcn.py [--backbones STGCN STGCNPP CTRGCN] [--threads 2] [--repeat 5]
       [--device cpu] [--cases ...] [--impls einsum matmul channels_last auto] [--precisions fp32 bf16]
Prints one markdown table row per backbone, case, aggregation form and precision. ``channels_last`` / ``auto``
(ST-GCN's channels-last training form, ``gcn_impl='auto'`` is its default) exist for STGCN only; other backbones
skip them. posecls vs MMAction2 at identical shapes: benchmarks/compare_peers.py.
"""
import argparse
import platform
import time

import torch
from mmengine.optim import OptimWrapper

from posecls.engine import BF16OptimWrapper
from posecls.registry import MODELS
from posecls.structures import PoseDataSample
from posecls.utils import register_all_modules

CASES = {
    'infer_ntu': dict(layout='ntu-rgb+d', classes=60, shape=(16, 3, 100, 25, 2), train=False),
    'latency_ntu': dict(layout='ntu-rgb+d', classes=60, shape=(1, 3, 300, 25, 2), train=False),
    'train_coco': dict(layout='coco', classes=60, shape=(16, 3, 100, 17, 2), train=True),
    'infer_nv': dict(layout='nvidia', classes=6, shape=(16, 3, 300, 34, 1), train=False),
    'train_nv': dict(layout='nvidia', classes=6, shape=(16, 3, 300, 34, 1), train=True),
    'infer_ucla': dict(layout='ucla', classes=10, shape=(16, 3, 52, 20, 1), train=False),
    'train_ucla': dict(layout='ucla', classes=10, shape=(16, 3, 52, 20, 1), train=True),
}
# NW-UCLA's 20-joint Kinect v1 skeleton (projects/kinect_v1/layout.py), as a layout dict
UCLA = dict(num_node=20, center=2, edges=[(0, 1), (1, 2), (2, 3), (2, 4), (4, 5), (5, 6), (6, 7), (2, 8), (8, 9),
                                          (9, 10), (10, 11), (0, 12), (12, 13), (13, 14), (14, 15), (0, 16),
                                          (16, 17), (17, 18), (18, 19)])
BACKBONES = ('STGCN', 'STGCNPP', 'CTRGCN')


def build(backbone: str, layout: str, classes: int, impl: str, device: str):
    """Full-size recognizer (TAO's ST-GCN, ST-GCN++ or CTR-GCN) with ``impl`` graph aggregation."""
    graph_cfg = dict(layout=UCLA if layout == 'ucla' else layout)
    model = MODELS.build(dict(type='SkeletonRecognizer', backbone=dict(type=backbone, graph_cfg=graph_cfg),
                              cls_head=dict(type='GCNHead', num_classes=classes)))
    for m in model.modules():
        if hasattr(m, 'set_impl'):
            m.set_impl(impl)
    return model.to(device)


def sync(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def run_case(backbone: str, name: str, impl: str, repeat: int, device: str, precision: str = 'fp32') -> dict:
    """Time one case; returns samples/s and ms per batch (median of ``repeat`` timed runs after warm-up).

    ``precision='bf16'``: training steps through :class:`BF16OptimWrapper` (what ``tools/train.py --amp`` uses
    on a CPU), inference under bfloat16 autocast.
    """
    spec = CASES[name]
    model = build(backbone, spec['layout'], spec['classes'], impl, device)
    x = torch.randn(*spec['shape'], device=device)
    n = spec['shape'][0]
    optim_cls = BF16OptimWrapper if precision == 'bf16' else OptimWrapper
    if spec['train']:
        model.train()
        wrapper = optim_cls(optimizer=torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True,
                                                      weight_decay=1e-4))
        labels = [PoseDataSample().set_gt_label(i % spec['classes']) for i in range(n)]

        def step():
            with wrapper.optim_context(model):
                losses = model(x, labels, mode='loss')
            wrapper.update_params(losses['loss_cls'])
    else:
        model.eval()

        def step():
            with torch.inference_mode(), torch.autocast(device.split(':')[0], dtype=torch.bfloat16,
                                                        enabled=precision == 'bf16'):
                model(x)
    step()  # warm-up
    times = []
    for _ in range(repeat):
        sync(device)
        t0 = time.perf_counter()
        step()
        sync(device)
        times.append(time.perf_counter() - t0)
    dt = sorted(times)[len(times) // 2]
    return dict(samples_per_s=n / dt, ms_per_batch=1000 * dt)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--repeat', type=int, default=5)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--backbones', nargs='+', default=['STGCN'], choices=BACKBONES)
    parser.add_argument('--cases', nargs='+', default=list(CASES), choices=list(CASES))
    parser.add_argument('--impls', nargs='+', default=['einsum', 'matmul'],
                        choices=['einsum', 'matmul', 'channels_last', 'auto'])
    parser.add_argument('--precisions', nargs='+', default=['fp32'], choices=['fp32', 'bf16'],
                        help='bf16: training through BF16OptimWrapper (tools/train.py --amp on a CPU)')
    args = parser.parse_args()
    register_all_modules()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f'torch {torch.__version__}, {platform.processor() or platform.machine()}, threads={args.threads}, '
          f'device={args.device}')
    print('| backbone | case | shape (N, C, T, V, M) | gcn | precision | samples/s | ms/batch |')
    print('|---|---|---|---|---|---|---|')
    for backbone in args.backbones:
        for name in args.cases:
            for impl in args.impls:
                if impl in ('channels_last', 'auto') and backbone != 'STGCN':
                    print(f'| {backbone} | {name} | gcn {impl} skipped: an ST-GCN form only |')
                    continue
                for precision in args.precisions:
                    r = run_case(backbone, name, impl, args.repeat, args.device, precision)
                    print(f"| {backbone} | {name} | {CASES[name]['shape']} | {impl} | {precision} | "
                          f"{r['samples_per_s']:.1f} | {r['ms_per_batch']:.0f} |", flush=True)


if __name__ == '__main__':
    main()
