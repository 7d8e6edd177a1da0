"""RandomMove: TAO / original ST-GCN's random rotation, scale and translation over time."""
from typing import Any, Dict, Optional, Sequence

import numpy as np

from posecls.datasets.transforms.base import BaseTransform, check_keypoint
from posecls.registry import TRANSFORMS


@TRANSFORMS.register_module()
class RandomMove(BaseTransform):
    """Rotate, scale and translate x/y with parameters interpolated linearly over time.

    ``move_time`` is drawn from ``move_time_candidate``; key frames are
    ``round(arange(0, T, T / move_time))`` plus T; an angle, scale, x- and
    y-translation is drawn independently from the candidates for every key
    frame and interpolated with ``linspace`` between them. Frame t then maps
    ``[x; y] -> s(t) R(a(t)) [x; y] + [tx(t); ty(t)]`` on channels 0 and 1 of all
    joints and persons (zero padding included, as in TAO); other channels are
    unchanged.

    Args:
        angle_candidate: Angles in degrees.
        scale_candidate: Scale factors.
        transform_candidate: Translations (x and y drawn separately).
        move_time_candidate: Number of interpolation segments.
        seed: Seed of the fallback RNG.

    Required keys: ``keypoint`` (C, T, V, M) with C >= 2. Modified keys: ``keypoint``.
    """

    def __init__(self, angle_candidate: Sequence[float] = (-10., -5., 0., 5., 10.),
                 scale_candidate: Sequence[float] = (0.9, 1.0, 1.1),
                 transform_candidate: Sequence[float] = (-0.2, -0.1, 0.0, 0.1, 0.2),
                 move_time_candidate: Sequence[int] = (1, ), seed: Optional[int] = None) -> None:
        super().__init__(seed)
        for name, cand in (('angle_candidate', angle_candidate), ('scale_candidate', scale_candidate),
                           ('transform_candidate', transform_candidate),
                           ('move_time_candidate', move_time_candidate)):
            if len(cand) == 0:
                raise ValueError(f'RandomMove: {name} must not be empty')
        if any(int(m) != m or m < 1 for m in move_time_candidate):
            raise ValueError(f'RandomMove: move_time_candidate must hold positive ints, got {move_time_candidate}')
        self.angle_candidate = list(angle_candidate)
        self.scale_candidate = list(scale_candidate)
        self.transform_candidate = list(transform_candidate)
        self.move_time_candidate = [int(m) for m in move_time_candidate]

    def transform(self, results: Dict[str, Any]) -> Dict[str, Any]:
        """Apply one random move to ``keypoint``."""
        data = check_keypoint(results, 'RandomMove')
        C, T, V, M = data.shape
        if C < 2:
            raise ValueError(f'RandomMove needs at least 2 channels (x, y), got C={C}')
        rng = self.rng(results)
        move_time = int(rng.choice(self.move_time_candidate))
        node = np.arange(0, T, T * 1.0 / move_time).round().astype(int)
        node = np.append(node, T)
        num_node = len(node)
        A = rng.choice(self.angle_candidate, num_node)
        S = rng.choice(self.scale_candidate, num_node)
        TX = rng.choice(self.transform_candidate, num_node)
        TY = rng.choice(self.transform_candidate, num_node)
        a, s, tx, ty = (np.zeros(T) for _ in range(4))
        for i in range(num_node - 1):
            seg = slice(node[i], node[i + 1])
            n = node[i + 1] - node[i]
            a[seg] = np.linspace(A[i], A[i + 1], n) * np.pi / 180
            s[seg] = np.linspace(S[i], S[i + 1], n)
            tx[seg] = np.linspace(TX[i], TX[i + 1], n)
            ty[seg] = np.linspace(TY[i], TY[i + 1], n)
        theta = np.array([[np.cos(a) * s, -np.sin(a) * s], [np.sin(a) * s, np.cos(a) * s]])  # (2, 2, T)
        xy = data[0:2].astype(np.float64)  # (2, T, V, M)
        new_xy = np.einsum('ijt,jtvm->itvm', theta, xy)
        new_xy[0] += tx[:, None, None]
        new_xy[1] += ty[:, None, None]
        out = np.array(data, copy=True)
        out[0:2] = new_xy
        results['keypoint'] = out
        return results

    def __repr__(self) -> str:
        return (f'RandomMove(angle_candidate={self.angle_candidate}, scale_candidate={self.scale_candidate}, '
                f'transform_candidate={self.transform_candidate}, '
                f'move_time_candidate={self.move_time_candidate})')
