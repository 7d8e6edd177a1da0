"""UniformSample: resample the valid frames of a clip to a fixed length (pyskl / CTR-GCN style)."""
from typing import Any, Dict

import numpy as np

from posecls.datasets.transforms.base import BaseTransform, check_keypoint
from posecls.datasets.transforms.skeleton_utils import num_valid_frames, presence_mask
from posecls.registry import TRANSFORMS

#: Training draws of :class:`UniformSample`.
SAMPLINGS = ('segment', 'random')


def uniform_indices(length: int, clip_len: int, offsets: np.ndarray) -> np.ndarray:
    """Frame ``floor((j + offsets[j]) * length / clip_len)`` for every output frame j.

    The valid frames are cut into ``clip_len`` equal segments and one frame is
    taken from each, at relative position ``offsets[j]`` in [0, 1). Shorter clips
    are stretched (frames repeat), longer ones subsampled; indices never decrease.
    """
    pos = (np.arange(clip_len) + offsets) * (length / clip_len)
    return np.minimum(np.floor(pos).astype(np.int64), length - 1)


@TRANSFORMS.register_module()
class UniformSample(BaseTransform):
    """Resample the valid frames ``[0, L)`` of a clip to exactly ``clip_len`` frames.

    Training (``test_mode=False``), by ``sampling``:

    - ``'segment'`` (pyskl): one random frame from each of ``clip_len`` equal
      segments, a random, order-preserving resampling that keeps the tempo;
    - ``'random'`` (CTR-GCN's NW-UCLA feeder): ``clip_len`` frames drawn
      independently and uniformly from the valid frames, then sorted, so the
      tempo varies along the clip (frames repeat or are skipped at random).

    A new draw every epoch. Testing: deterministic; clip k of ``num_clips`` takes the frame at relative
    position ``(k + 0.5) / num_clips`` of every segment, so one clip uses the
    segment centres and several clips cover the segments evenly.

    The zero padding after the clip is never sampled; a clip without any valid
    frame becomes all zeros. With ``num_clips > 1`` the output gets a leading
    clip axis; the recognizer averages the clips' predictions at test time and
    treats them as separate samples in training.

    Args:
        clip_len: Output frames (NW-UCLA recipes: 52; pyskl: 100).
        num_clips: Clips per sample.
        test_mode: Deterministic sampling.
        sampling: Training draw, ``'segment'`` or ``'random'`` (see above); not
            used with ``test_mode``.

    Required keys: ``keypoint`` (C, T, V, M). Modified keys: ``keypoint``
    ((C, clip_len, V, M), or (num_clips, C, clip_len, V, M)) and ``presence``.
    """

    def __init__(self, clip_len: int, num_clips: int = 1, test_mode: bool = False,
                 sampling: str = 'segment') -> None:
        super().__init__()
        for name, val in (('clip_len', clip_len), ('num_clips', num_clips)):
            if not isinstance(val, int) or isinstance(val, bool) or val < 1:
                raise ValueError(f'UniformSample: {name} must be a positive int, got {val!r}')
        if sampling not in SAMPLINGS:
            raise ValueError(f'UniformSample: sampling must be one of {SAMPLINGS}, got {sampling!r}')
        self.sampling = sampling
        self.clip_len = clip_len
        self.num_clips = num_clips
        self.test_mode = test_mode

    def transform(self, results: Dict[str, Any]) -> Dict[str, Any]:
        """Resample ``keypoint``."""
        kp = check_keypoint(results, 'UniformSample')
        length = num_valid_frames(results)
        present = presence_mask(results)
        C, _, V, M = kp.shape
        if length == 0:
            clips = np.zeros((self.num_clips, C, self.clip_len, V, M), dtype=np.float32)
            masks = np.zeros((self.num_clips, self.clip_len, V, M), dtype=bool)
        else:
            rng = self.rng(results)
            index = []
            for k in range(self.num_clips):
                if self.test_mode:
                    index.append(uniform_indices(length, self.clip_len, np.full(self.clip_len, (k + 0.5) /
                                                                                self.num_clips)))
                elif self.sampling == 'random':
                    index.append(np.sort(rng.integers(0, length, self.clip_len)))
                else:
                    index.append(uniform_indices(length, self.clip_len, rng.random(self.clip_len)))
            clips = np.stack([kp[:, idx] for idx in index]).astype(np.float32)
            masks = np.stack([present[idx] for idx in index])
        single = self.num_clips == 1
        results['keypoint'] = clips[0] if single else clips
        results['presence'] = masks[0] if single else masks
        return results

    def __repr__(self) -> str:
        return (f'UniformSample(clip_len={self.clip_len}, num_clips={self.num_clips}, test_mode={self.test_mode}, '
                f'sampling={self.sampling!r})')
