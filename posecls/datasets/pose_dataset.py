"""PoseDataset: TAO skeleton arrays (N, C, T, V, M) .npy + ``[[names], [labels]]`` .pkl."""
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.dataset import Compose
from torch.utils.data import Dataset

from posecls.datasets.label_io import classes_from_label_map, load_label_file, load_label_map
from posecls.registry import DATASETS, TRANSFORMS
from posecls.utils.input_checks import NonFiniteInputError

#: samples checked per chunk when scanning for non-finite values
_FINITE_CHUNK = 256


@DATASETS.register_module()
class PoseDataset(Dataset):
    """Skeleton sequences in TAO's format.

    Data is ``np.load(mmap_mode='r')``-opened, so a dataset larger than RAM
    trains: one sample is copied into memory at a time. The file is opened
    lazily in each process (DataLoader workers included).

    Args:
        data_path: ``.npy`` float array (N, C, T, V, M), or the (N, C, T, V, M)
            array itself (in memory; ``inference_recognizer`` classifies arrays this way).
        label_path: ``.pkl`` ``[[sample names], [labels]]``; None for inference
            (every label is -1).
        label_map: ``{class name: id}`` dict or JSON file path; gives class names.
        num_classes: Number of classes; must equal ``len(label_map)`` when both are given.
        pipeline: Transform configs or callables applied to each sample.
        mmap: Memory-map the npy (True) or read it into RAM (False).
        num_joints: Expected V (the model's layout); a mismatch is an error.
        num_channels: Expected C; a mismatch is an error.
        check_finite: Scan the whole array for NaN/inf at start-up (chunked).
        seed: Base seed of per-sample augmentation RNGs when the sampler gives
            plain indices (PoseSampler gives per-epoch seeds instead).

    Each item is the pipeline applied to ``dict(keypoint=(C, T, V, M) float32,
    label=int, sample_name=str, sample_idx=int, rng=np.random.Generator)``.

    Raises:
        FileNotFoundError / ValueError: with the file, field and expected value,
            for a wrong ndim, N mismatch between npy and pkl, labels outside
            [0, num_classes), label_map/num_classes disagreement, V or C not
            matching, or non-finite values.
    """

    def __init__(self, data_path: Union[str, np.ndarray], label_path: Optional[str] = None,
                 label_map: Union[None, str, Dict[str, int]] = None, num_classes: Optional[int] = None,
                 pipeline: Sequence[Union[dict, Any]] = (), mmap: bool = True, num_joints: Optional[int] = None,
                 num_channels: Optional[int] = None, check_finite: bool = True, seed: int = 0) -> None:
        self._array = data_path if isinstance(data_path, np.ndarray) else None
        self.data_path: Optional[str] = None if self._array is not None else data_path
        self.source = f'data file {data_path}' if self._array is None else 'the input array'
        self.label_path = label_path
        self.mmap = mmap and self._array is None
        self.seed = seed
        self._data: Optional[np.ndarray] = None
        data = self._open()
        self._validate_array(data, num_joints, num_channels, check_finite)
        self.num_samples = data.shape[0]
        self.shape = tuple(data.shape)
        self.label_map = load_label_map(label_map)
        self.classes = self._resolve_classes(num_classes)
        self.num_classes = len(self.classes) if self.classes is not None else num_classes
        self.sample_names, self.labels = self._load_labels()
        self.pipeline = Compose([TRANSFORMS.build(t) if isinstance(t, dict) else t for t in pipeline])
        if not mmap:
            self._data = data
        else:
            self._data = None  # reopened lazily per process (memmaps do not pickle cheaply)

    # ------------------------------------------------------------------ loading
    def _open(self) -> np.ndarray:
        if self._array is not None:
            return self._array
        if not isinstance(self.data_path, str):
            raise TypeError(f'data_path must be a .npy path or an array, got {type(self.data_path).__name__}')
        if not osp.isfile(self.data_path):
            raise FileNotFoundError(f'data file not found: {self.data_path}')
        try:
            arr = np.load(self.data_path, mmap_mode='r' if self.mmap else None, allow_pickle=False)
        except (ValueError, EOFError, OSError) as e:
            size = osp.getsize(self.data_path)
            what = ('an empty file (0 bytes)' if size == 0
                    else f'not a plain numeric .npy array ({type(e).__name__}: {e})')
            raise ValueError(f'data file {self.data_path}: {what}; expected an (N, C, T, V, M) float .npy') from e
        if not isinstance(arr, np.ndarray):
            raise ValueError(f'data file {self.data_path}: expected a single .npy array, got {type(arr).__name__}')
        return arr

    @property
    def data(self) -> np.ndarray:
        """The (N, C, T, V, M) array (memory-mapped unless ``mmap=False``)."""
        if self._data is None:
            self._data = self._open()
        return self._data

    def _validate_array(self, data: np.ndarray, num_joints: Optional[int], num_channels: Optional[int],
                        check_finite: bool) -> None:
        where = self.source
        if data.ndim != 5:
            raise ValueError(f'{where}: expected a 5-D array (N, C, T, V, M), got shape {data.shape}')
        if not np.issubdtype(data.dtype, np.floating):
            raise ValueError(f'{where}: expected a float array, got dtype {data.dtype}')
        N, C, T, V, M = data.shape
        if N == 0:
            raise ValueError(f'{where}: contains no samples (N=0)')
        if num_joints is not None and V != num_joints:
            raise ValueError(f"{where}: V={V} joints (axis 3 of (N, C, T, V, M)) but the model's graph layout "
                             f'has {num_joints}; use a matching graph_layout or convert the data')
        if num_channels is not None and C != num_channels:
            raise ValueError(f'{where}: C={C} channels (axis 1) but the model expects in_channels={num_channels}')
        if check_finite:
            for start in range(0, N, _FINITE_CHUNK):
                chunk = np.asarray(data[start:start + _FINITE_CHUNK])
                bad = ~np.isfinite(chunk)
                if bad.any():
                    idx = np.argwhere(bad)[0]
                    bad_samples = (start + np.flatnonzero(bad.reshape(len(chunk), -1).any(axis=1))).tolist()
                    raise NonFiniteInputError(
                        f'{where}: non-finite value {chunk[tuple(idx)]} at sample {start + idx[0]} (c={idx[1]}, '
                        f't={idx[2]}, v={idx[3]}, m={idx[4]}); such a sequence has no class: fix or drop it',
                        bad_samples)

    def _resolve_classes(self, num_classes: Optional[int]) -> Optional[List[str]]:
        if num_classes is not None and (isinstance(num_classes, bool) or not isinstance(num_classes, int)
                                        or num_classes < 1):
            raise ValueError(f'num_classes must be a positive int, got {num_classes!r}')
        if self.label_map is None:
            return None if num_classes is None else [str(i) for i in range(num_classes)]
        classes = classes_from_label_map(self.label_map)
        if num_classes is not None and num_classes != len(classes):
            raise ValueError(f'num_classes={num_classes} disagrees with label_map, which has {len(classes)} '
                             f'classes ({classes}); make them agree')
        return classes

    def _load_labels(self) -> Tuple[List[str], List[int]]:
        if self.label_path is None:
            return [str(i) for i in range(self.num_samples)], [-1] * self.num_samples
        names, labels = load_label_file(self.label_path)
        if len(labels) != self.num_samples:
            raise ValueError(f'label file {self.label_path} has {len(labels)} labels but {self.source} has '
                             f'N={self.num_samples} samples')
        if self.num_classes is not None:
            bad = [(i, lb) for i, lb in enumerate(labels) if not 0 <= lb < self.num_classes]
            if bad:
                i, lb = bad[0]
                raise ValueError(f'label file {self.label_path}: labels[{i}] = {lb} is outside [0, '
                                 f'{self.num_classes}) ({len(bad)} bad labels); check num_classes / label_map')
        else:
            neg = [i for i, lb in enumerate(labels) if lb < 0]
            if neg:
                raise ValueError(f'label file {self.label_path}: labels[{neg[0]}] is negative')
            self.num_classes = max(labels) + 1
            self.classes = [str(i) for i in range(self.num_classes)]
        return names, labels

    # ------------------------------------------------------------------ access
    @property
    def metainfo(self) -> Dict[str, Any]:
        """Dataset meta saved in checkpoints: class names and label map."""
        classes = tuple(self.classes) if self.classes is not None else None
        return dict(classes=classes, label_map=self.label_map)

    def __len__(self) -> int:
        return self.num_samples

    def get_data_info(self, idx: int) -> Dict[str, Any]:
        """Raw sample ``idx`` (a copy) with its label and name, before the pipeline."""
        return dict(keypoint=np.array(self.data[idx], dtype=np.float32), label=self.labels[idx],
                    sample_name=self.sample_names[idx], sample_idx=idx)

    def __getitem__(self, index: Union[int, Tuple[int, ...]]) -> Any:
        """Apply the pipeline to one sample.

        ``index`` is an int, or ``(idx, seed, epoch)`` from :class:`PoseSampler`;
        the random transforms draw from ``np.random.default_rng`` seeded with
        ``(seed, epoch, idx)`` (or ``(self.seed, idx)`` for a plain index).
        """
        if isinstance(index, tuple):
            idx, seed, epoch = index
            rng_seed = [int(seed), int(epoch), int(idx)]
        else:
            idx = int(index)
            rng_seed = [int(self.seed), idx]
        results = self.get_data_info(idx)
        results['rng'] = np.random.default_rng(rng_seed)
        return self.pipeline(results)

    def __getstate__(self) -> Dict[str, Any]:
        state = self.__dict__.copy()
        if self.mmap:
            state['_data'] = None
        return state
