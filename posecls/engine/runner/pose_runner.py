"""PoseRunner: mmengine's Runner with safe loading, TAO checkpoint formats and auto-resume."""
import os.path as osp
from typing import Callable, Dict, Optional, Union

import torch
import torch.distributed as torch_dist
from mmengine.device import get_device
from mmengine.dist import broadcast_object_list, is_distributed
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner
from mmengine.runner.checkpoint import _load_checkpoint_to_model, find_latest_checkpoint

from posecls.engine.distributed import init_distributed, wrap_ddp_cpu
from posecls.engine.hooks.checkpoint_hook import LATEST_NAME
from posecls.engine.hooks.rng_state_hook import RNGStateHook
from posecls.engine.hooks.safe_state_hook import SafeStateHook
from posecls.registry import RUNNERS
from posecls.utils.checkpoint import CheckpointError, checkpoint_safe_globals, load_checkpoint_file, load_weights


@RUNNERS.register_module()
class PoseRunner(Runner):
    """mmengine Runner for posecls.

    Adds to :class:`mmengine.runner.Runner`:
        * checkpoints are read with ``torch.load(weights_only=True)`` and an
          allow-list (mmengine 0.10.7 cannot resume at all on torch >= 2.6);
          posecls-encrypted checkpoints are decrypted with the active
          passphrase (``posecls.utils.encryption``);
        * ``load_from`` accepts posecls, TAO Lightning and original ST-GCN
          weights; a classifier of another class count is re-initialised when
          training (fine-tuning) and refused by ``test()`` / ``val()`` and resume;
        * ``resume=True`` without ``load_from`` resumes from
          ``<work_dir>/pc_model_latest.pth`` (TAO's auto-resume), falling back
          to mmengine's ``last_checkpoint``; nothing found -> fresh start;
        * a clear error when the training set cannot fill one batch;
        * SafeStateHook and RNGStateHook are always registered;
        * distributed runs work without GPUs: backend ``nccl`` with CUDA,
          ``gloo`` without (``env_cfg.dist_cfg.backend`` overrides), no
          ``torch.cuda.set_device`` and DDP without ``device_ids`` on CPU
          (see :mod:`posecls.engine.distributed`).

    ``is_resuming`` is True while a resume is loading (RNGStateHook reads it).
    """

    is_resuming: bool = False
    #: True inside test() / val(): load_from must then fit the classes exactly (no re-initialised classifier)
    _evaluating: bool = False

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Part of posecls's checkpoint format, not optional: plain message hub
        # (weights_only loading) and RNG states (bit-exact resume).
        for hook_type in (SafeStateHook, RNGStateHook):
            if not any(isinstance(h, hook_type) for h in self.hooks):
                self.register_hook(hook_type())
        if self.distributed:
            self.logger.info(f'Distributed: rank {self.rank} of {self.world_size} processes, '
                             f'backend {torch_dist.get_backend()}, device {get_device()}')

    def setup_env(self, env_cfg: Dict) -> None:
        """Initialise the process group (CPU-safe, backend auto), then mmengine's set-up.

        Also applies ``env_cfg.cudnn_deterministic`` (TAO's ``train.cudnn.deterministic``):
        it sets only ``torch.backends.cudnn.deterministic`` (mmengine's
        ``randomness.deterministic`` also forces deterministic algorithms everywhere).
        """
        # mmengine skips its own init_dist (which needs CUDA) when the group already exists.
        if self.distributed and not is_distributed():
            init_distributed(self.launcher, env_cfg.get('dist_cfg'))
        super().setup_env(env_cfg)
        if env_cfg.get('cudnn_deterministic') is not None:
            torch.backends.cudnn.deterministic = bool(env_cfg['cudnn_deterministic'])

    def wrap_model(self, model_wrapper_cfg: Optional[Dict], model):
        """mmengine's wrapping, except DDP on CPU, which must be built without ``device_ids``."""
        if not self.distributed and self.cfg.get('sync_bn') is not None:
            self.logger.warning(f"sync_bn={self.cfg.get('sync_bn')!r} is ignored: the run is not distributed")
        if not self.distributed or is_model_wrapper(model) or get_device() != 'cpu':
            return super().wrap_model(model_wrapper_cfg, model)
        return wrap_ddp_cpu(model, model_wrapper_cfg, self.cfg.get('sync_bn'),
                            self.cfg.get('find_unused_parameters', False))

    def load_or_resume(self) -> None:
        """Resume (explicit path, or auto from the work dir) or load weights."""
        if self._has_loaded:
            return
        resume_from = None
        if self._resume and self._load_from is None:
            latest = osp.join(self.work_dir, LATEST_NAME)
            resume_from = latest if osp.exists(latest) else find_latest_checkpoint(self.work_dir)
            if self.distributed:  # rank 0 decides, so every process resumes from the same checkpoint (or none)
                resume_from = self._agree_on_resume(resume_from)
            if resume_from is None:
                self.logger.info(f'No checkpoint to resume in {self.work_dir}: starting from scratch.')
            else:
                self.logger.info(f'Auto-resuming from {resume_from} ({osp.realpath(resume_from)}).')
        elif self._resume:
            resume_from = self._load_from
        if resume_from is not None:
            self.resume(resume_from)
            self._has_loaded = True
        elif self._load_from is not None:
            self.load_checkpoint(self._load_from)
            self._has_loaded = True

    def _agree_on_resume(self, resume_from: Optional[str]) -> Optional[str]:
        """Rank 0's auto-resume choice for every rank; a rank that cannot read it is an error."""
        choice = [resume_from]
        broadcast_object_list(choice, src=0)
        if choice[0] is not None and not osp.exists(choice[0]):
            raise FileNotFoundError(f'rank {self.rank}: rank 0 resumes from {choice[0]}, which this process cannot '
                                    'read: the work_dir must be on a filesystem shared by all nodes')
        return choice[0]

    def resume(self, filename: str, resume_optimizer: bool = True, resume_param_scheduler: bool = True,
               map_location: Union[str, Callable] = 'default') -> None:
        """Resume model, optimizer, schedulers, epoch, message hub and RNG states."""
        self.is_resuming = True
        try:
            with checkpoint_safe_globals():
                super().resume(filename, resume_optimizer, resume_param_scheduler, map_location)
        except KeyError as e:
            raise CheckpointError(f'cannot resume from {filename}: it is not a posecls training checkpoint '
                                  f'(missing {e}). To start training from its weights use load_from / '
                                  'model.pretrained_model_path instead of resume.') from e
        finally:
            self.is_resuming = False

    def load_checkpoint(self, filename: str, map_location: Union[str, Callable] = 'cpu', strict: bool = False,
                        revise_keys: list = [(r'^module.', '')]) -> dict:  # noqa: B006 - mmengine's signature
        """Load a checkpoint; while resuming the full posecls dict, otherwise weights of any format."""
        if self.is_resuming:
            # Runner.load_checkpoint with posecls's reader (weights_only, decryption of
            # posecls-encrypted files) in place of mmengine's plain torch.load.
            checkpoint = load_checkpoint_file(filename, map_location=map_location)
            self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
            model = self.model.module if is_model_wrapper(self.model) else self.model
            checkpoint = _load_checkpoint_to_model(model, checkpoint, strict, revise_keys=revise_keys)
            self._has_loaded = True
            self.logger.info(f'Load checkpoint from {filename}')
            return checkpoint
        model = self.model.module if is_model_wrapper(self.model) else self.model
        report = load_weights(model, filename, strict=strict, logger=self.logger, reinit_head=not self._evaluating,
                              map_location='cpu' if map_location == 'default' else map_location)
        checkpoint = report['checkpoint']
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        self.logger.info(f"Loaded {report['format']} weights from {filename}")
        return checkpoint

    def train(self):
        """Train, after checking that the training set fills at least one batch."""
        loader = self.train_dataloader
        if len(loader) == 0:
            bs = loader.batch_size if loader.batch_size is not None else loader.batch_sampler.batch_size
            raise ValueError(f'the training set has {len(loader.dataset)} samples, fewer than one batch '
                             f'(batch_size={bs} per process, world size {self.world_size}, drop_last); lower '
                             'train_dataloader.batch_size or add data')
        return super().train()

    def test(self) -> dict:
        """mmengine's test loop; ``load_from`` must be trained for the config's classes."""
        return self._evaluate(super().test)

    def val(self) -> dict:
        """mmengine's validation loop; ``load_from`` must be trained for the config's classes."""
        return self._evaluate(super().val)

    def _evaluate(self, loop: Callable[[], dict]) -> dict:
        self._evaluating = True
        try:
            return loop()
        finally:
            self._evaluating = False
