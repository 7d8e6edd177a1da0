"""Graph: the adjacency tensor A (K, V, V) of a skeleton layout and partition strategy."""
from typing import List, Tuple

import numpy as np

from posecls.graphs.layout import LayoutLike, SkeletonLayout, get_layout
from posecls.registry import PARTITIONS


def get_hop_distance(num_node: int, edges: List[Tuple[int, int]], max_hop: int = 1) -> np.ndarray:
    """Hop distance between joints, ``inf`` beyond ``max_hop``.

    Args:
        num_node: Number of joints V.
        edges: Links (self-links included), treated as undirected.
        max_hop: Largest distance computed.

    Returns:
        np.ndarray: (V, V) float64 matrix of hop counts (0 on the diagonal).
    """
    B = np.zeros((num_node, num_node))
    for i, j in edges:
        B[j, i] = 1
        B[i, j] = 1
    hop_dis = np.zeros((num_node, num_node)) + np.inf
    transfer = [np.linalg.matrix_power(B, d) for d in range(max_hop + 1)]
    arrive = np.stack(transfer) > 0
    for d in range(max_hop, -1, -1):
        hop_dis[arrive[d]] = d
    return hop_dis


def normalize_digraph(adjacency: np.ndarray) -> np.ndarray:
    """Column-normalise: ``A @ diag(1 / column_sums)`` (zero where a column sums to 0).

    Args:
        adjacency: (V, V) binary adjacency.

    Returns:
        np.ndarray: (V, V) float64, every non-empty column sums to 1.
    """
    col_sum = np.sum(adjacency, 0)
    V = adjacency.shape[0]
    Dn = np.zeros((V, V))
    for i in range(V):
        if col_sum[i] > 0:
            Dn[i, i] = col_sum[i]**(-1)
    return np.dot(adjacency, Dn)


class Graph:
    """Skeleton graph with the partitioned, normalised adjacency used by ST-GCN.

    Built exactly as TAO/original ST-GCN build it: self-links plus neighbour
    links, hop distances up to ``max_hop``, binary adjacency over
    ``range(0, max_hop + 1, dilation)``, column normalisation, then the partition
    strategy. ``A[k, v, w]`` is the weight from source joint v to target joint w.

    Args:
        layout: A registered layout name (``'nvidia'`` ...), a dict
            ``dict(num_node=..., edges=[...], center=...)``, or a SkeletonLayout.
        strategy: A registered partition strategy: ``'uniform'`` (K=1),
            ``'distance'`` (K=len(valid hops)) or ``'spatial'`` (K=1+2*max_hop/dilation).
        max_hop: Largest hop distance connected. TAO always uses 1.
        dilation: Step between kept hops. TAO always uses 1.

    Attributes:
        A (np.ndarray): (K, V, V) float32 adjacency.
        layout (SkeletonLayout): The resolved layout.
        hop_dis (np.ndarray): (V, V) hop distances.

    Example:
        >>> Graph('nvidia', 'spatial').A.shape
        (3, 34, 34)
    """

    def __init__(self, layout: LayoutLike = 'nvidia', strategy: str = 'spatial', max_hop: int = 1,
                 dilation: int = 1) -> None:
        if not isinstance(max_hop, int) or max_hop < 1:
            raise ValueError(f'max_hop must be an int >= 1, got {max_hop!r}')
        if not isinstance(dilation, int) or dilation < 1:
            raise ValueError(f'dilation must be an int >= 1, got {dilation!r}')
        self.layout: SkeletonLayout = get_layout(layout)
        self.strategy = strategy
        self.max_hop = max_hop
        self.dilation = dilation
        self.edge = self.layout.self_links + list(self.layout.edges)
        self.hop_dis = get_hop_distance(self.num_node, self.edge, max_hop=max_hop)
        self.A = self._build_adjacency().astype(np.float32)

    @property
    def num_node(self) -> int:
        """Number of joints V."""
        return self.layout.num_node

    @property
    def center(self) -> int:
        """Centre joint index."""
        return self.layout.center

    def _build_adjacency(self) -> np.ndarray:
        valid_hop = list(range(0, self.max_hop + 1, self.dilation))
        adjacency = np.zeros((self.num_node, self.num_node))
        for hop in valid_hop:
            adjacency[self.hop_dis == hop] = 1
        norm_adj = normalize_digraph(adjacency)
        fn = PARTITIONS.module_dict.get(self.strategy) if isinstance(self.strategy, str) else None
        if fn is None:
            known = ', '.join(sorted(PARTITIONS.module_dict))
            raise ValueError(f"unknown graph strategy '{self.strategy}'. Choose one of: {known}")
        return np.asarray(fn(self.hop_dis, norm_adj, valid_hop, self.center))

    def __repr__(self) -> str:
        return (f'Graph(layout={self.layout.name!r}, strategy={self.strategy!r}, max_hop={self.max_hop}, '
                f'dilation={self.dilation}, A.shape={tuple(self.A.shape)})')
