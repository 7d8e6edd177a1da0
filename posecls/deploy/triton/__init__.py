"""Triton: model repository, local server (nvidia-pytriton's tritonserver), TAO client and load test."""
from .triton_repo import DEFAULT_MODEL_NAME, build_model_config, describe_model, write_triton_repository

__all__ = ['write_triton_repository', 'build_model_config', 'describe_model', 'DEFAULT_MODEL_NAME']
