"""Data preprocessors."""
from .skeleton_data_preprocessor import SkeletonDataPreprocessor

__all__ = ['SkeletonDataPreprocessor']
