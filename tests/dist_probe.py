"""DistProbeHook: a test instrument for multi-process runs (imported through ``custom_imports``).

Each rank appends JSON lines to ``<out_dir>/<work_dir name>/rank<R>.jsonl``:
    ``{"event": "iter", "epoch", "iter", "world_size", "samples": [sample_idx, ...]}`` per training iteration;
    ``{"event": "end", "epoch", "weights_sha1"}`` after training (hash of the model's parameters and buffers).
"""
import hashlib
import json
import os
import os.path as osp

from mmengine.dist import get_dist_info
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from posecls.registry import HOOKS


def weights_sha1(model) -> str:
    """SHA-1 of the model's state_dict tensors (name order), on the CPU."""
    module = model.module if is_model_wrapper(model) else model
    h = hashlib.sha1()
    for name, tensor in module.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


@HOOKS.register_module()
class DistProbeHook(Hook):
    """Record what each rank trained on and the weights it ended with."""

    def __init__(self, out_dir: str) -> None:
        self.out_dir = out_dir

    def _write(self, runner, record: dict) -> None:
        rank, world_size = get_dist_info()
        folder = osp.join(self.out_dir, osp.basename(osp.normpath(runner.work_dir)))
        os.makedirs(folder, exist_ok=True)
        with open(osp.join(folder, f'rank{rank}.jsonl'), 'a') as f:
            f.write(json.dumps(dict(record, world_size=world_size)) + '\n')

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        """Log the iteration and the dataset indices of its batch."""
        samples = [int(ds.metainfo['sample_idx']) for ds in data_batch['data_samples']]
        self._write(runner, dict(event='iter', epoch=runner.epoch, iter=runner.iter, samples=samples))

    def after_train(self, runner) -> None:
        """Log the final weights' hash."""
        self._write(runner, dict(event='end', epoch=runner.epoch, weights_sha1=weights_sha1(runner.model)))
