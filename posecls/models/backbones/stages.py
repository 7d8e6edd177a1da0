"""Stage plan shared by the ten-block GCN backbones (ST-GCN++, CTR-GCN)."""
from typing import List, Sequence, Tuple


def stage_plan(in_channels: int, base_channels: int, num_stages: int, inflate_stages: Sequence[int],
               down_stages: Sequence[int], ch_ratio: float = 2.0,
               always_first: bool = False) -> List[Tuple[int, int, int, bool]]:
    """Channels, stride and residual flag of every block (pyskl's rule).

    Block 1 maps ``in_channels -> base_channels`` without residual (ST-GCN++ leaves
    it out when the two are equal, CTR-GCN keeps it: ``always_first``); block ``i`` (2-based) multiplies the channels by
    ``ch_ratio`` when ``i in inflate_stages`` and has stride 2 when ``i in
    down_stages``.

    Args:
        in_channels: Input channels C.
        base_channels: Channels of the first stage.
        num_stages: Number of blocks (10 for the published models).
        inflate_stages: 1-based blocks that widen the features.
        down_stages: 1-based blocks with temporal stride 2.
        ch_ratio: Widening factor.
        always_first: Keep block 1 even when ``in_channels == base_channels``.

    Returns:
        list of (in_channels, out_channels, stride, residual) per block.

    Raises:
        ValueError: for stage numbers outside [2, num_stages].
    """
    if num_stages < 1:
        raise ValueError(f'num_stages must be >= 1, got {num_stages}')
    for name, stages in (('inflate_stages', inflate_stages), ('down_stages', down_stages)):
        bad = [s for s in stages if not 2 <= s <= num_stages]
        if bad:
            raise ValueError(f'{name} must be block numbers in [2, {num_stages}] (1-based), got {list(stages)}')
    plan = []
    if in_channels != base_channels or always_first:
        plan.append((in_channels, base_channels, 1, False))
    channels, inflate_times = base_channels, 0
    for i in range(2, num_stages + 1):
        if i in inflate_stages:
            inflate_times += 1
        out = int(base_channels * ch_ratio**inflate_times + 1e-4)
        plan.append((channels, out, 1 + int(i in down_stages), True))
        channels = out
    return plan
