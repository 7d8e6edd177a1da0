"""Utilities: module registration, atomic file writes and safe checkpoint loading."""
from .setup_env import register_all_modules

__all__ = ['register_all_modules']
