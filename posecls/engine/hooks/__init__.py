"""Hooks."""
from .checkpoint_hook import LATEST_NAME, PoseCheckpointHook
from .safe_state_hook import SafeStateHook
from .rng_state_hook import RNGStateHook, capture_rng_state, restore_rng_state

__all__ = ['PoseCheckpointHook', 'SafeStateHook', 'RNGStateHook', 'LATEST_NAME', 'capture_rng_state',
           'restore_rng_state']
