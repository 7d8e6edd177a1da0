"""Recognizers: the trainable SkeletonRecognizer and DeployedRecognizer (an exported model for the Runner)."""
from .deployed_recognizer import DeployedRecognizer, deployed_model_config
from .predictions import AVERAGE_CLIPS, average_clips, pack_predictions
from .protogcn_recognizer import ProtoGCNRecognizer
from .skeleton_recognizer import SkeletonRecognizer

__all__ = ['SkeletonRecognizer', 'DeployedRecognizer', 'deployed_model_config', 'AVERAGE_CLIPS',
           'average_clips', 'pack_predictions', 'ProtoGCNRecognizer']
