"""Backend: a deployed model (ONNX Runtime, TensorRT) that maps skeleton batches to logits."""
import abc
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from posecls.utils.input_checks import check_finite

#: Tensor names of TAO's exported model (docs/reference.md §6.6).
INPUT_NAME = 'input'
OUTPUT_NAME = 'fc_pred'


class Backend(abc.ABC):
    """A runtime that runs an exported recognizer: ``(N, C, T, V, M)`` float32 -> ``(N, K)`` logits.

    :func:`posecls.apis.inference_recognizer` accepts a Backend in place of a
    PyTorch model and applies the same test pipeline (taken from ``cfg`` when
    it is set), so evaluation and inference give the same outputs through
    PyTorch, ONNX Runtime and TensorRT.

    Attributes:
        model_file: The file the backend runs.
        input_shape: ``(C, T, V, M)`` the model accepts (the batch axis is dynamic).
        max_batch: Largest batch one call to the runtime takes (None: unlimited);
            :meth:`infer` splits larger inputs.
        output_size: K, the number of logits per sequence, when the model file states it (None: unknown).
        dataset_meta: ``dict(classes=[...] or None)``.
        cfg: Optional config whose ``test_dataloader`` pipeline
            ``inference_recognizer`` applies (None: no pipeline).
    """

    #: short name used in messages and reports
    name: str = 'backend'

    def __init__(self, model_file: str, input_shape: Sequence[int], classes: Optional[Sequence[str]] = None,
                 max_batch: Optional[int] = None, cfg: Any = None, output_size: Optional[int] = None) -> None:
        self.model_file = model_file
        self.input_shape: Tuple[int, ...] = tuple(int(d) for d in input_shape)
        self.max_batch = max_batch
        self.output_size = output_size
        self.dataset_meta: Dict[str, Optional[List[str]]] = dict(classes=list(classes) if classes else None)
        self.cfg = cfg

    @property
    def num_classes(self) -> Optional[int]:
        """Number of classes: the model's output size, else the length of ``dataset_meta['classes']``."""
        if self.output_size is not None:
            return self.output_size
        classes = self.dataset_meta.get('classes')
        return len(classes) if classes else None

    def check_input(self, x: np.ndarray) -> np.ndarray:
        """Validate a batch and return it as a C-contiguous float32 array.

        Raises:
            ValueError: not 5-D, or (C, T, V, M) differs from :attr:`input_shape`.
            NonFiniteInputError: a sample holds NaN or +-inf (named by its index in ``x``).
        """
        x = np.asarray(x)
        if x.ndim != 5:
            raise ValueError(f'{self.name} backend ({self.model_file}) expects input (N, C, T, V, M), got shape '
                             f'{tuple(x.shape)}')
        if tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(f'{self.name} backend ({self.model_file}): input (C, T, V, M) must be '
                             f'{self.input_shape} (static in the exported model), got {tuple(x.shape[1:])}; '
                             'pad/crop T with the config pipeline or export with a matching input shape')
        x = np.ascontiguousarray(x, dtype=np.float32)
        check_finite(x, f'{self.name} backend ({self.model_file})')
        return x

    def infer(self, x: np.ndarray) -> np.ndarray:
        """Run the model.

        Args:
            x: (N, C, T, V, M) float32 skeleton sequences.

        Returns:
            np.ndarray: (N, K) float32 logits (TAO's ``fc_pred``).
        """
        x = self.check_input(x)
        step = self.max_batch or max(1, x.shape[0])
        outs = [self._run(x[i:i + step]) for i in range(0, x.shape[0], step)]
        out = np.concatenate(outs) if outs else np.zeros((0, self.num_classes or 0), np.float32)
        return out.astype(np.float32, copy=False)

    @abc.abstractmethod
    def _run(self, x: np.ndarray) -> np.ndarray:
        """Run one batch of at most :attr:`max_batch` sequences."""

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.model_file!r}, input_shape={self.input_shape})'
