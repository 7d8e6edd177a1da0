"""Optimizer wrappers."""
from .bf16_optim_wrapper import BF16OptimWrapper, cpu_has_native_bf16

__all__ = ['BF16OptimWrapper', 'cpu_has_native_bf16']
