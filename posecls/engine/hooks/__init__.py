"""Hooks."""
from .checkpoint_hook import LATEST_NAME, PoseCheckpointHook, validates_after_epoch
from .integrity_hook import CheckpointIntegrityHook
from .progress_hook import ProgressHook
from .rng_state_hook import RNGStateHook, capture_rng_state, restore_rng_state
from .safe_state_hook import SafeStateHook
from .training_history_hook import HISTORY_FILE, TrainingHistoryHook

__all__ = ['PoseCheckpointHook', 'SafeStateHook', 'RNGStateHook', 'CheckpointIntegrityHook', 'TrainingHistoryHook',
           'ProgressHook',
           'LATEST_NAME', 'HISTORY_FILE', 'capture_rng_state', 'restore_rng_state', 'validates_after_epoch']
