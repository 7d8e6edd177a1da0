"""The model card: what was trained on what, how big it is, how it was run, and from which code."""
import os.path as osp
import re
import subprocess
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
from mmengine.config import Config

_SHA = re.compile(r'([0-9a-f]{40})$')
PRECISIONS = {'OptimWrapper': 'float32', 'BF16OptimWrapper': 'bfloat16 mixed precision (BF16OptimWrapper)',
              'AmpOptimWrapper': 'float16 mixed precision (AmpOptimWrapper)'}


def count_flops(model: Any, sample: np.ndarray) -> int:
    """FLOPs of one forward pass on one sample (C, T, V, M), counted by ``torch.utils.flop_counter.FlopCounterMode``
    (2 per multiply-add of convolutions and matrix products, the operations that dominate a GCN)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.from_numpy(np.ascontiguousarray(sample, dtype=np.float32))[None]
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x, mode='tensor')
    return int(counter.get_total_flops())


def code_commit(path: Optional[str] = None) -> Optional[str]:
    """``git rev-parse HEAD`` of the repository holding ``path`` (default: posecls itself), ``+dirty`` when it has
    uncommitted changes; None outside a git checkout."""
    where = osp.dirname(osp.abspath(path or __file__))
    try:
        head = subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=where, capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(['git', 'status', '--porcelain', '--untracked-files=no'], cwd=where,
                               capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ('+dirty' if dirty.stdout.strip() else '')


def trained_commit(meta: Dict[str, Any]) -> Optional[str]:
    """The commit of the training's working directory, as mmengine stores it (``meta.mmengine_version`` ends with
    ``git rev-parse HEAD`` of the folder training ran in); None when it was not a git checkout."""
    m = _SHA.search(str(meta.get('mmengine_version', '')))
    return m.group(1) if m else None


def data_sizes(cfg: Config) -> List[Tuple[str, str, str]]:
    """(split, data file, shape or problem) of the config's train / val / test sets."""
    rows = []
    for split in ('train', 'val', 'test'):
        loader = cfg.get(f'{split}_dataloader') or {}
        path = (loader.get('dataset') or {}).get('data_path')
        if not isinstance(path, str):
            continue
        try:
            shape = np.load(path, mmap_mode='r', allow_pickle=False).shape
            rows.append((split, path, f'{shape[0]} sequences, (N, C, T, V, M) = {tuple(shape)}'))
        except (OSError, ValueError) as e:
            rows.append((split, path, f'not readable here ({type(e).__name__})'))
    return rows


def _fmt_seconds(s: Optional[float]) -> str:
    if s is None:
        return 'n/a'
    return f'{s:.1f} s' if s < 120 else f'{s / 60:.1f} min'


def layout_label(cfg: Config, layout: Any) -> str:
    """The registered name the config gives the layout (``model.backbone.graph_cfg.layout``), else its own name."""
    named = ((cfg.model.get('backbone') or {}).get('graph_cfg') or {}).get('layout')
    return named if isinstance(named, str) else str(layout.name)


def model_card(cfg: Config, model: Any, sample: np.ndarray, *, checkpoint: str, meta: Dict[str, Any],
               classes: List[str], layout: Any, train_seconds: Optional[float],
               eval_info: Dict[str, Any]) -> List[Tuple[str, str]]:
    """The card's rows (name, value).

    Args:
        cfg: The run's config.
        model: The recognizer built from it.
        sample: One test sample (C, T, V, M) after the test pipeline (the FLOPs input).
        checkpoint: The checkpoint reported on.
        meta: Its ``meta`` (:func:`posecls.report.collect.checkpoint_meta`).
        classes: Class names.
        layout: The model's :class:`posecls.graphs.SkeletonLayout` (built-in or user-registered).
        train_seconds: Training wall time (None: unknown).
        eval_info: ``dir``, ``dump``, ``seconds`` (None when an earlier evaluation was reused).
    """
    backbone = dict(cfg.model.get('backbone') or {})
    graph = dict(backbone.get('graph_cfg') or {})
    layout_name = layout_label(cfg, layout)
    params = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    flops = count_flops(model, sample)
    optim_wrapper = cfg.get('optim_wrapper') or {}
    wrapper = optim_wrapper.get('type', 'OptimWrapper')
    precision = PRECISIONS.get(wrapper, wrapper) + (f", dtype {optim_wrapper['dtype']}" if optim_wrapper.get('dtype')
                                                    else '')
    epochs = meta.get('epoch')
    max_epochs = (cfg.get('train_cfg') or {}).get('max_epochs')
    sha = meta.get('content_sha256')
    rows = [
        ('experiment', str(meta.get('experiment_name') or osp.basename(osp.dirname(osp.abspath(checkpoint))))),
        ('checkpoint', f'{checkpoint} (epoch {epochs}{f" of {max_epochs}" if max_epochs else ""}'
                       f'{f", sha256 {sha[:12]}" if sha else ""})'),
        ('model', f"{cfg.model.get('type', '?')}: backbone {backbone.get('type', '?')}"
                  + (f" (base_channels {backbone['base_channels']})" if 'base_channels' in backbone else '')
                  + f", head {(cfg.model.get('cls_head') or {}).get('type', '?')}"),
        ('skeleton layout', f"{layout_name} ({layout.num_node} joints, {len(layout.edges)} edges, centre joint "
                            f"{layout.center}), strategy {graph.get('strategy', '?')}"),
        ('classes', f'{len(classes)}: {", ".join(classes)}'),
        ('parameters', f'{params:,}' + ('' if trainable == params else f' ({trainable:,} trainable)')),
        ('FLOPs per sample', f'{flops / 1e9:.3f} GFLOPs for one input (1, C, T, V, M) = '
                             f'(1, {", ".join(map(str, sample.shape))})'),
    ]
    rows += [(f'{split} data', f'{desc} - {path}') for split, path, desc in data_sizes(cfg)]
    rows += [
        ('precision', f'training {precision}; evaluation '
                      + ('float16 (test_cfg.fp16)' if (cfg.get('test_cfg') or {}).get('fp16') else 'float32')),
        ('training wall time', _fmt_seconds(train_seconds) + ' (first to last line of the training logs, all '
                                                             'starts and resumes)'),
        ('evaluation', f"{eval_info['dir']} (predictions {eval_info['dump']}; "
                       + (f"run by the report, {_fmt_seconds(eval_info['seconds'])}" if eval_info.get('seconds')
                          is not None else 'an earlier evaluation of this checkpoint') + ')'),
        ('trained at commit', trained_commit(meta) or 'unknown (not a git checkout)'),
        ('report made at commit', code_commit() or 'unknown (not a git checkout)'),
        ('seed', str(meta.get('seed', (cfg.get('randomness') or {}).get('seed', 'n/a')))),
    ]
    return rows


__all__ = ['model_card', 'layout_label', 'count_flops', 'code_commit', 'trained_commit', 'data_sizes']
