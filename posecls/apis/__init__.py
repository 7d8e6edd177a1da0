"""High-level APIs: build a model, classify sequences, write outputs."""
from .inference import inference_recognizer, init_recognizer
from .outputs import class_names_of, format_ranked_line, write_lines, write_ranked_scores

__all__ = ['init_recognizer', 'inference_recognizer', 'format_ranked_line', 'write_ranked_scores', 'write_lines',
           'class_names_of']
