"""PoseRunner: mmengine's Runner with safe loading, TAO checkpoint formats, trustworthy resume and auto-resume."""
import copy
import os.path as osp
import uuid
from typing import Any, Callable, Dict, List, Optional, Union

import torch
import torch.distributed as torch_dist
from mmengine.device import get_device
from mmengine.dist import barrier, broadcast_object_list, is_distributed, is_main_process
from mmengine.model import is_model_wrapper
from mmengine.runner import LogProcessor, Runner
from mmengine.runner.checkpoint import _load_checkpoint_to_model

from posecls.engine.distributed import init_distributed, wrap_ddp_cpu
from posecls.engine.hooks.checkpoint_hook import LATEST_NAME, PoseCheckpointHook
from posecls.engine.hooks.integrity_hook import CheckpointIntegrityHook
from posecls.engine.hooks.rng_state_hook import RNGStateHook
from posecls.engine.hooks.safe_state_hook import SafeStateHook
from posecls.engine.hooks.training_history_hook import HISTORY_FILE, TrainingHistoryHook
from posecls.engine.runner import work_dir as wd
from posecls.registry import RUNNERS
from posecls.utils.atomic_io import remove_stale_temp_files
from posecls.utils.checkpoint import (
    CheckpointError,
    check_class_count,
    checkpoint_safe_globals,
    extract_state_dict,
    load_checkpoint_file,
    load_weights,
)

#: scheduler state that is progress (restored on resume); every other attribute comes from the config
SCHEDULER_PROGRESS_KEYS = frozenset({'last_step', '_global_step', 'base_values', '_last_value', 'best',
                                     'num_bad_epochs', 'cooldown_counter', '_train_loss_seen',
                                     '_get_value_called_within_step'})
#: attributes whose change alters the shape of a schedule (not just where it stops)
SCHEDULER_SHAPE_KEYS = ('T_max', 'eta_min', 'total_iters', 'milestones', 'gamma', 'factor', 'patience',
                        'start_factor', 'end_factor', 'begin')


#: mmengine's own deprecation notices about its internals (its CheckpointHook uses FileClient): nothing a user
#: can act on, kept out of the quiet console (the log file still has them)
_INTERNAL_DEPRECATIONS = ('"FileClient" will be deprecated', '"HardDiskBackend" is the alias of "LocalBackend"')


def _drop_internal_deprecations(record) -> bool:
    message = str(record.msg)
    return not any(text in message for text in _INTERNAL_DEPRECATIONS)


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
        * ``resume=True`` without ``load_from`` resumes from the newest complete
          checkpoint of the work dir (``pc_model_latest.pth``, ``last_checkpoint``,
          ``model_epoch_*.pth``; each read and checked), else ``init_from`` (TAO's
          ``pretrained_model_path``), else starts fresh; a work dir holding only
          checkpoints that cannot be resumed is refused, and no checkpoint of
          another run is ever overwritten (:mod:`posecls.engine.runner.work_dir`);
        * a resumed run asked to train longer behaves as if configured that long:
          schedulers keep their progress, their definition (``end``, milestones,
          ``T_max`` ...) comes from the config;
        * resume and evaluation refuse a checkpoint of another class count;
        * a clear error when the training set cannot fill one batch;
        * SafeStateHook, RNGStateHook, TrainingHistoryHook and CheckpointIntegrityHook
          are always registered; val/test metrics are logged as the epoch's own values
          (:class:`PoseLogProcessor`); stale temporary files of killed writes are removed;
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
        #: id of this run, stored in its checkpoints (a resume adopts the resumed run's id)
        self.run_id: str = uuid.uuid4().hex
        # Part of posecls's checkpoint format, not optional: plain message hub
        # (weights_only loading), RNG states (bit-exact resume), the epoch history and the content hash.
        for hook_type in (SafeStateHook, RNGStateHook, TrainingHistoryHook, CheckpointIntegrityHook):
            if not any(isinstance(h, hook_type) for h in self.hooks):
                self.register_hook(hook_type())
        if is_main_process():
            for path in remove_stale_temp_files(self.work_dir):
                self.logger.info(f'Removed {path}, left by an interrupted write')
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

    def _checkpoint_names(self) -> tuple:
        hook = next((h for h in self.hooks if isinstance(h, PoseCheckpointHook)), None)
        return (hook.filename_tmpl, hook.latest_name) if hook is not None else ('model_epoch_{:03d}.pth', LATEST_NAME)

    def _model_state(self) -> Dict[str, Any]:
        model = self.model.module if is_model_wrapper(self.model) else self.model
        return model.state_dict()

    def _plan_start(self) -> Dict[str, Any]:
        """Rank 0's decision: ``dict(resume=path or None, error=message or None, moved=folder or None)``."""
        files = wd.checkpoint_files(self.work_dir, *self._checkpoint_names())
        if not self._resume:
            if self._evaluating:
                return dict(resume=None, error=None, moved=None)
            return dict(resume=None, error=None, moved=wd.move_aside(self.work_dir, files, HISTORY_FILE))
        if self._load_from is not None:
            return dict(resume=self._load_from, error=None, moved=None)
        best, invalid = wd.choose_resume(files, self._model_state())
        if best is None and invalid:
            return dict(resume=None, error=wd.refusal(self.work_dir, invalid), moved=None)
        if best is not None and invalid:
            self.logger.warning('Not resuming from ' + '; '.join(f'{osp.basename(i.path)} ({i.problem})'
                                                                for i in invalid) + f': {best.path} is newer')
        return dict(resume=None if best is None else best.path, error=None, moved=None)

    def load_or_resume(self) -> None:
        """Resume (explicit path, or the newest complete checkpoint of the work dir) or load weights.

        Raises:
            CheckpointError: the work dir holds checkpoints that cannot be resumed, or the run
                would overwrite checkpoints of another run (the message names them and the ways out).
        """
        if self._has_loaded:
            return
        plan = [self._plan_start() if is_main_process() else None]
        if self.distributed:  # rank 0 decides, so every process resumes from the same checkpoint (or none)
            broadcast_object_list(plan, src=0)
        plan = plan[0]
        if plan['error']:
            raise CheckpointError(plan['error'])
        if plan['moved']:
            self.logger.warning(f'Starting fresh (no resume) in {self.work_dir}: its checkpoints were moved to '
                                f"{plan['moved']} (never overwritten)")
        resume_from = plan['resume']
        if resume_from is not None and not osp.exists(resume_from):
            raise FileNotFoundError(f'rank {self.rank}: cannot read {resume_from}, the checkpoint to resume: the '
                                    'work_dir must be on a filesystem shared by all nodes')
        if self.distributed:
            barrier()
        if resume_from is not None:
            if self._load_from is None:
                self.logger.info(f'Auto-resuming from {resume_from} ({osp.realpath(resume_from)}).')
            self.resume(resume_from)
            self._has_loaded = True
            if is_main_process():
                self._refuse_overwriting_other_runs(resume_from)
        elif self._load_from is not None:
            self.load_checkpoint(self._load_from)
            self._has_loaded = True
        elif self.cfg.get('init_from') and not self._evaluating:
            self.logger.info(f"No checkpoint to resume in {self.work_dir}: initialising from {self.cfg.init_from}")
            self.load_checkpoint(self.cfg.init_from)
            self._has_loaded = True
        elif self._resume and not self._evaluating:
            self.logger.info(f'No checkpoint to resume in {self.work_dir}: starting from scratch.')

    def _refuse_overwriting_other_runs(self, resumed: str) -> None:
        files = wd.checkpoint_files(self.work_dir, *self._checkpoint_names())
        info = wd.CheckpointInfo(resumed, self.train_loop.epoch, self.run_id, None)
        foreign = wd.foreign_later_checkpoints(files, info, self._model_state())
        if foreign:
            raise CheckpointError(f'resuming {resumed} at epoch {info.epoch} would overwrite checkpoints of '
                                  'another run: ' + '; '.join(f'{osp.basename(i.path)} ({i.problem})' for i in foreign)
                                  + '. ' + wd.WAYS_OUT)

    def resume(self, filename: str, resume_optimizer: bool = True, resume_param_scheduler: bool = True,
               map_location: Union[str, Callable] = 'default') -> None:
        """Resume model, optimizer, schedulers (progress only), epoch, message hub, RNG states and run id."""
        self.is_resuming = True
        fresh = self._fresh_scheduler_states() if resume_param_scheduler else None
        try:
            with checkpoint_safe_globals():
                super().resume(filename, resume_optimizer, resume_param_scheduler, map_location)
            if fresh is not None:
                self._restore_scheduler_definitions(fresh)
        except KeyError as e:
            raise CheckpointError(f'cannot resume from {filename}: it is not a posecls training checkpoint '
                                  f'(missing {e}). To start training from its weights use load_from / '
                                  'model.pretrained_model_path instead of resume.') from e
        finally:
            self.is_resuming = False

    def _scheduler_list(self) -> List[Any]:
        schedulers = self.param_schedulers
        if isinstance(schedulers, dict):
            return [s for group in schedulers.values() for s in group]
        return list(schedulers or [])

    def _fresh_scheduler_states(self) -> Optional[List[Dict[str, Any]]]:
        """The schedulers as the config defines them, before the checkpoint's state is loaded."""
        if self.param_schedulers is None:
            return None
        self.optim_wrapper = self.build_optim_wrapper(self.optim_wrapper)
        self.param_schedulers = self.build_param_scheduler(self.param_schedulers)
        return [copy.deepcopy(s.state_dict()) for s in self._scheduler_list()]

    def _restore_scheduler_definitions(self, fresh: List[Dict[str, Any]]) -> None:
        """Keep each scheduler's progress from the checkpoint and its definition from the config.

        So "train 20 more epochs" (a larger ``max_epochs``) schedules as if configured that
        long from the start. posecls builds schedulers without an explicit ``end`` with an
        unbounded one (:meth:`_build_param_scheduler`), so their progress is the same whatever
        the run length; a schedule whose definition changed (an ``end`` or ``T_max`` restated
        in the config, or a checkpoint of a run that ended its schedule at ``max_epochs``) gets
        the step count of the new definition and, where posecls knows the closed form
        (:data:`posecls.engine.schedulers.closed_forms.CLOSED_FORMS`), the new schedule's value
        at that step; the log says so.
        """
        from mmengine.optim.scheduler.param_scheduler import ReduceOnPlateauParamScheduler

        from posecls.engine.schedulers.closed_forms import closed_form_values
        schedulers = self._scheduler_list()
        for scheduler, defined in zip(schedulers, fresh):
            name = type(scheduler).__name__
            state = scheduler.state_dict()
            changed = {k: (state.get(k), v) for k, v in defined.items()
                       if k not in SCHEDULER_PROGRESS_KEYS and state.get(k) != v}
            scheduler.load_state_dict({k: v for k, v in defined.items() if k not in SCHEDULER_PROGRESS_KEYS})
            if not changed:
                continue
            what = ', '.join(f'{k} {old!r} -> {new!r}' for k, (old, new) in changed.items())
            if isinstance(scheduler, ReduceOnPlateauParamScheduler):
                self.logger.info(f'{name}: definition from the config ({what})')
                continue
            step = scheduler._global_step
            scheduler.last_step = min(step, scheduler.end - 1) - scheduler.begin if step >= scheduler.begin else -1
            active = [s for s in schedulers if s.begin <= step < s.end and s.param_name == scheduler.param_name]
            values = closed_form_values(scheduler) if active == [scheduler] else None
            if values is not None:
                for group, value in zip(self.optim_wrapper.param_groups, values):
                    group[scheduler.param_name] = value
                scheduler._last_value = list(values)
                self.logger.warning(f'{name}: the config changed the schedule ({what}); it was rebuilt over the new '
                                    f'definition: step {scheduler.last_step}, {scheduler.param_name} {values}')
            elif any(k in SCHEDULER_SHAPE_KEYS for k in changed) or scheduler.begin <= step < scheduler.end:
                self.logger.warning(f'{name}: the config changed the schedule ({what}); continuing from the current '
                                    f'{scheduler.param_name} at step {scheduler.last_step} (no closed form known)')
            else:
                self.logger.info(f'{name}: schedule extended from the config ({what})')

    def _build_param_scheduler(self, scheduler, optim_wrapper):
        """mmengine's, except that a scheduler without ``end`` never stops (instead of stopping at max_epochs).

        The run stops at ``max_epochs`` anyway; an unbounded ``end`` makes a checkpoint's
        scheduler state independent of the run length, so a run resumed with a larger
        ``max_epochs`` continues exactly as if it had been configured that long.
        """
        from mmengine.optim.scheduler.param_scheduler import INF
        if isinstance(scheduler, dict):
            scheduler = [scheduler]
        if isinstance(scheduler, (list, tuple)):
            scheduler = [dict(s, end=s.get('end', INF)) if isinstance(s, dict) else s for s in scheduler]
        return super()._build_param_scheduler(scheduler, optim_wrapper)

    def load_checkpoint(self, filename: str, map_location: Union[str, Callable] = 'cpu', strict: bool = False,
                        revise_keys: list = [(r'^module.', '')]) -> dict:  # noqa: B006 - mmengine's signature
        """Load a checkpoint; while resuming the full posecls dict, otherwise weights of any format."""
        if self.is_resuming:
            # Runner.load_checkpoint with posecls's reader (weights_only, decryption of
            # posecls-encrypted files) in place of mmengine's plain torch.load.
            checkpoint = load_checkpoint_file(filename, map_location=map_location)
            model = self.model.module if is_model_wrapper(self.model) else self.model
            self._check_resumable(checkpoint, filename, model.state_dict())
            if isinstance(checkpoint.get('meta'), dict) and checkpoint['meta'].get('run_id'):
                self.run_id = checkpoint['meta']['run_id']
            self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
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

    @staticmethod
    def _check_resumable(checkpoint: Any, filename: str, model_state: Dict[str, Any]) -> None:
        """Refuse a checkpoint that cannot continue this run before any state is touched."""
        if not isinstance(checkpoint, dict) or 'meta' not in checkpoint or 'state_dict' not in checkpoint:
            return  # resume() reports the missing parts
        sd, _ = extract_state_dict(checkpoint, filename)
        check_class_count(sd, model_state, filename)
        bad = [f'{k}: checkpoint {tuple(v.shape)} vs model {tuple(model_state[k].shape)}' for k, v in sd.items()
               if k in model_state and hasattr(v, 'shape') and tuple(v.shape) != tuple(model_state[k].shape)]
        if bad:
            raise CheckpointError(f'cannot resume from {filename}: it is a checkpoint of another model (another '
                                  'config?): ' + '; '.join(bad[:4]))

    def build_logger(self, log_level: Union[int, str] = 'INFO', log_file: Optional[str] = None, **kwargs):
        """mmengine's logger; ``console_log_level`` in the config (the tools set ``WARNING`` unless
        ``--verbose``) quiets the console only: the log file keeps ``log_level`` (the full log)."""
        logger = super().build_logger(log_level=log_level, log_file=log_file, **kwargs)
        console = self.cfg.get('console_log_level') if self.cfg is not None else None
        if console:
            import logging
            for handler in logger.handlers:
                if type(handler) is logging.StreamHandler:
                    handler.setLevel(console)
                    handler.addFilter(_drop_internal_deprecations)
        return logger

    def build_log_processor(self, log_processor: Union[LogProcessor, Dict]) -> LogProcessor:
        """mmengine's LogProcessor becomes :class:`PoseLogProcessor` (val/test metrics are the epoch's own)."""
        if isinstance(log_processor, dict) and log_processor.get('type', 'LogProcessor') in (
                'LogProcessor', 'mmengine.LogProcessor'):
            log_processor = dict(log_processor, type='PoseLogProcessor')
        return super().build_log_processor(log_processor)

    def _check_data_fits_model(self) -> None:
        """The first training sample, after the pipeline, has the model's channels and joints (file named)."""
        model = self.model.module if is_model_wrapper(self.model) else self.model
        backbone = getattr(model, 'backbone', None)
        channels, joints = getattr(backbone, 'in_channels', None), getattr(backbone, 'num_node', None)
        dataset = self.train_dataloader.dataset
        if channels is None or len(dataset) == 0:
            return
        sample = dataset[0]
        inputs = sample.get('inputs') if isinstance(sample, dict) else None
        if inputs is None or inputs.dim() not in (4, 5):
            return
        c, v = inputs.shape[-4], inputs.shape[-2]
        if c != channels or (joints is not None and v != joints):
            where = getattr(dataset, 'source', None) or getattr(dataset, 'data_path', None) or type(dataset).__name__
            raise ValueError(f'train_dataloader.dataset ({where}): samples have C={c} channels and V={v} joints after '
                             f'the pipeline, but the model expects in_channels={channels} and {joints} joints; make '
                             'model.backbone.in_channels / graph_cfg.layout match the data (or the pipeline: '
                             'PoseStream with several streams multiplies C)')

    def train(self):
        """Train, after checking that the training set fills a batch and fits the model."""
        loader = self.train_dataloader
        if len(loader) == 0:
            bs = loader.batch_size if loader.batch_size is not None else loader.batch_sampler.batch_size
            raise ValueError(f'the training set has {len(loader.dataset)} samples, fewer than one batch '
                             f'(batch_size={bs} per process, world size {self.world_size}, drop_last); lower '
                             'train_dataloader.batch_size or add data')
        self._check_data_fits_model()
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
