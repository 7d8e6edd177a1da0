"""Partition strategies that split a normalised adjacency into K matrices.

Each strategy is a function registered in ``posecls.registry.PARTITIONS``::

    fn(hop_dis, norm_adj, valid_hop, center) -> np.ndarray (K, V, V), float64

``hop_dis`` is the (V, V) hop distance (``inf`` beyond ``max_hop``), ``norm_adj``
the column-normalised adjacency, ``valid_hop`` the hops kept
(``range(0, max_hop + 1, dilation)``) and ``center`` the centre joint. These are
TAO's / the original ST-GCN's strategies, bit for bit (docs/reference.md §2.3).
"""
from typing import Sequence

import numpy as np

from posecls.registry import PARTITIONS


@PARTITIONS.register_module(name='uniform')
def uniform_partition(hop_dis: np.ndarray, norm_adj: np.ndarray, valid_hop: Sequence[int],
                      center: int) -> np.ndarray:
    """One matrix: the whole normalised adjacency (K = 1)."""
    return norm_adj[None].copy()


@PARTITIONS.register_module(name='distance')
def distance_partition(hop_dis: np.ndarray, norm_adj: np.ndarray, valid_hop: Sequence[int],
                       center: int) -> np.ndarray:
    """One matrix per kept hop distance (K = len(valid_hop); 2 for max_hop=1)."""
    V = norm_adj.shape[0]
    A = np.zeros((len(valid_hop), V, V))
    for i, hop in enumerate(valid_hop):
        A[i][hop_dis == hop] = norm_adj[hop_dis == hop]
    return A


@PARTITIONS.register_module(name='spatial')
def spatial_partition(hop_dis: np.ndarray, norm_adj: np.ndarray, valid_hop: Sequence[int],
                      center: int) -> np.ndarray:
    """ST-GCN spatial configuration: root, centripetal and centrifugal groups.

    For hop 0 one matrix (root); for every further hop two: ``root + close``
    and ``further``. Distances to the centre are compared as floats, so two
    joints that are both beyond ``max_hop`` from the centre (``inf == inf``)
    count as "root" -- TAO's and the original's quirk, kept on purpose.
    K = 1 + 2 * (len(valid_hop) - 1), i.e. 3 for max_hop=1.
    """
    V = norm_adj.shape[0]
    A = []
    for hop in valid_hop:
        a_root = np.zeros((V, V))
        a_close = np.zeros((V, V))
        a_further = np.zeros((V, V))
        for i in range(V):
            for j in range(V):
                if hop_dis[j, i] == hop:
                    if hop_dis[j, center] == hop_dis[i, center]:
                        a_root[j, i] = norm_adj[j, i]
                    elif hop_dis[j, center] > hop_dis[i, center]:
                        a_close[j, i] = norm_adj[j, i]
                    else:
                        a_further[j, i] = norm_adj[j, i]
        if hop == 0:
            A.append(a_root)
        else:
            A.append(a_root + a_close)
            A.append(a_further)
    return np.stack(A)
