"""Options of ``dataset_convert``: TAO's spec keys, posecls's extras, and their validation.

Every option is checked before any input is read or any output is written; a
bad value raises ``ValueError`` naming the option, the value and what is
expected.
"""
import numbers
from dataclasses import dataclass, field, fields
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

#: TAO's ``dataset_convert`` keys and defaults (tao-core ``PCDatasetConvertExpConfig``).
TAO_DEFAULTS: Dict[str, Any] = dict(
    pose_type='3dbp',
    num_joints=34,
    input_width=1920,
    input_height=1080,
    focal_length=1200.0,
    sequence_length_max=300,
    sequence_length_min=10,
    sequence_length=100,
    sequence_overlap=0.5,
)

#: pose_type -> (JSON field read, number of output channels C)
POSE_TYPES: Dict[str, tuple] = {'3dbp': ('pose3d', 3), '25dbp': ('pose25d', 3), '2dbp': ('pose25d', 2)}


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


@dataclass(frozen=True)
class ConvertOptions:
    """All ``dataset_convert`` options, validated.

    The first nine fields are TAO's spec keys with TAO's defaults; the rest are
    posecls extensions (see docs/dataset_convert.md).

    Attributes:
        pose_type: ``3dbp`` (pose3d, pelvis-relative / focal_length),
            ``25dbp`` (pose25d: u/W-0.5, v/H-0.5, zRel) or ``2dbp`` (pose25d x, y).
        num_joints: Joints per pose (V); every pose must hold 4*V numbers.
        input_width, input_height: Frame size for 25dbp/2dbp.
        focal_length: Focal length (pixels) for 3dbp.
        sequence_length_max: T of the output arrays (windows are zero-padded to it).
        sequence_length_min: Shortest window kept.
        sequence_length: Window length.
        sequence_overlap: Window start step is ``int(sequence_length * sequence_overlap)``.
        split_gap: Split a track where frame_num jumps by more than this many
            frames (or goes backwards); None keeps TAO's behaviour (one track per id).
        labels: Labels CSV path, or a list of row mappings (labelled dataset mode).
        label_map: ``{class: id}`` dict or JSON path (labelled mode only).
        val_ratio: Fraction of each class's windows put in the val split (by track).
        val_files: Input JSON file names whose windows form the val split.
        seed: Seed of the ``val_ratio`` split.
        progress: Progress bar: True, False or ``'auto'`` (inputs >= 32 MiB on a terminal).
        chunk_bytes: Bytes read per parse step of the streaming reader.
        spill_bytes: Most feature bytes held in memory while reading; beyond
            it they are moved to temporary files in the results folder.
    """

    pose_type: str = TAO_DEFAULTS['pose_type']
    num_joints: int = TAO_DEFAULTS['num_joints']
    input_width: float = TAO_DEFAULTS['input_width']
    input_height: float = TAO_DEFAULTS['input_height']
    focal_length: float = TAO_DEFAULTS['focal_length']
    sequence_length_max: int = TAO_DEFAULTS['sequence_length_max']
    sequence_length_min: int = TAO_DEFAULTS['sequence_length_min']
    sequence_length: int = TAO_DEFAULTS['sequence_length']
    sequence_overlap: float = TAO_DEFAULTS['sequence_overlap']
    split_gap: Optional[int] = None
    labels: Union[None, str, Sequence[Mapping[str, Any]]] = None
    label_map: Union[None, str, Mapping[str, int]] = None
    val_ratio: Optional[float] = None
    val_files: Optional[List[str]] = None
    seed: int = 0
    progress: Union[bool, str] = 'auto'
    chunk_bytes: int = field(default=1 << 20)
    spill_bytes: int = field(default=16 << 20)

    # ------------------------------------------------------------------ derived
    @property
    def pose_key(self) -> str:
        """JSON field read for this pose type (``pose3d`` or ``pose25d``)."""
        return POSE_TYPES[self.pose_type][0]

    @property
    def channels(self) -> int:
        """C of the output arrays (3, or 2 for 2dbp)."""
        return POSE_TYPES[self.pose_type][1]

    @property
    def step(self) -> int:
        """Window start step, TAO's ``int(sequence_length * sequence_overlap)``."""
        return int(self.sequence_length * self.sequence_overlap)

    @property
    def labelled(self) -> bool:
        """True when a labelled dataset (train_data.npy + train_label.pkl) is built."""
        return self.labels is not None

    # ------------------------------------------------------------------ checks
    def __post_init__(self) -> None:
        self._check_tao()
        self._check_extras()

    def _check_tao(self) -> None:
        if self.pose_type not in POSE_TYPES:
            raise ValueError(f'dataset_convert.pose_type={self.pose_type!r} is not supported: expected one of '
                             f'{", ".join(POSE_TYPES)}')
        for key in ('num_joints', 'sequence_length_max', 'sequence_length_min', 'sequence_length'):
            v = getattr(self, key)
            if not _is_int(v) or v < 1:
                raise ValueError(f'dataset_convert.{key}={v!r}: expected an integer >= 1')
        for key in ('input_width', 'input_height', 'focal_length'):
            v = getattr(self, key)
            if not _is_number(v) or not v > 0 or v == float('inf'):
                raise ValueError(f'dataset_convert.{key}={v!r}: expected a finite number > 0')
        if self.sequence_length > self.sequence_length_max:
            raise ValueError(f'dataset_convert.sequence_length={self.sequence_length} is larger than '
                             f'sequence_length_max={self.sequence_length_max}: a window would not fit in the '
                             'output arrays (TAO fails with an IndexError); lower sequence_length or raise '
                             'sequence_length_max')
        v = self.sequence_overlap
        if not _is_number(v) or not v > 0 or v == float('inf'):
            raise ValueError(f'dataset_convert.sequence_overlap={v!r}: expected a number > 0 (the window start '
                             'step is int(sequence_length * sequence_overlap); 0 makes TAO loop forever)')
        if self.step < 1:
            raise ValueError(f'dataset_convert.sequence_overlap={v!r} gives a window step of '
                             f'int({self.sequence_length} * {v}) = {self.step}: the step must be >= 1 (TAO would '
                             'loop forever); use sequence_overlap >= 1/sequence_length')

    def _check_extras(self) -> None:
        if self.split_gap is not None and (not _is_int(self.split_gap) or self.split_gap < 1):
            raise ValueError(f'dataset_convert.split_gap={self.split_gap!r}: expected None or an integer >= 1 '
                             '(frames)')
        if self.labels is not None and not isinstance(self.labels, (str, list, tuple)):
            raise ValueError(f'dataset_convert.labels={self.labels!r}: expected a CSV path or a list of rows')
        if self.label_map is not None and not self.labelled:
            raise ValueError('dataset_convert.label_map is only used to build a labelled dataset: give labels too')
        if self.val_ratio is not None:
            if not self.labelled:
                raise ValueError('dataset_convert.val_ratio needs labels (a val split is made of labelled windows)')
            if not _is_number(self.val_ratio) or not 0 < self.val_ratio < 1:
                raise ValueError(f'dataset_convert.val_ratio={self.val_ratio!r}: expected a number in (0, 1)')
        if self.val_files is not None:
            if not self.labelled:
                raise ValueError('dataset_convert.val_files needs labels (a val split is made of labelled windows)')
            if isinstance(self.val_files, str) or not all(isinstance(f, str) for f in self.val_files):
                raise ValueError(f'dataset_convert.val_files={self.val_files!r}: expected a list of file names')
            if self.val_ratio is not None:
                raise ValueError('dataset_convert: give either val_ratio or val_files, not both')
        if not _is_int(self.seed):
            raise ValueError(f'dataset_convert.seed={self.seed!r}: expected an integer')
        if self.progress not in (True, False, 'auto'):
            raise ValueError(f"dataset_convert.progress={self.progress!r}: expected true, false or 'auto'")
        if not _is_int(self.chunk_bytes) or self.chunk_bytes < 1024:
            raise ValueError(f'dataset_convert.chunk_bytes={self.chunk_bytes!r}: expected an integer >= 1024')
        if not _is_int(self.spill_bytes) or self.spill_bytes < 0:
            raise ValueError(f'dataset_convert.spill_bytes={self.spill_bytes!r}: expected an integer >= 0 (bytes of '
                             'features held in memory before they are spilled to temporary files)')

    # ------------------------------------------------------------------ building
    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> 'ConvertOptions':
        """Build from keyword arguments; unknown keys raise ``ValueError`` listing the valid ones."""
        names = [f.name for f in fields(cls)]
        unknown = sorted(k for k in kwargs if k not in names)
        if unknown:
            raise ValueError(f'dataset_convert: unknown option(s) {", ".join(unknown)}; valid options are '
                             f'data, results_dir, {", ".join(names)}')
        if kwargs.get('val_files') is not None and isinstance(kwargs['val_files'], tuple):
            kwargs['val_files'] = list(kwargs['val_files'])
        return cls(**kwargs)

    def tao_dict(self) -> Dict[str, Any]:
        """The nine TAO keys and their values."""
        return {k: getattr(self, k) for k in TAO_DEFAULTS}
