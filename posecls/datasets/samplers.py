"""PoseSampler: mmengine's DefaultSampler that also hands out per-sample augmentation seeds."""
from typing import Iterator, Tuple

from mmengine.dataset import DefaultSampler

from posecls.registry import DATA_SAMPLERS


@DATA_SAMPLERS.register_module()
class PoseSampler(DefaultSampler):
    """Shuffle and shard like :class:`mmengine.dataset.DefaultSampler`, yielding ``(idx, seed, epoch)``.

    PoseDataset seeds each sample's augmentation RNG with ``(seed, epoch, idx)``,
    so augmentations differ every epoch yet are identical for any number of
    DataLoader workers or processes and after a resume.

    Args: as :class:`mmengine.dataset.DefaultSampler` (``shuffle``, ``seed``, ``round_up``).
    """

    def __iter__(self) -> Iterator[Tuple[int, int, int]]:
        for idx in super().__iter__():
            yield (int(idx), int(self.seed), int(self.epoch))
