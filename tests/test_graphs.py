"""Graph layouts and adjacency: bit-exact against TAO's reference hashes and values."""
import hashlib

import numpy as np
import pytest

from posecls.graphs import Graph, SkeletonLayout, get_layout
from posecls.registry import GRAPHS

# docs/reference.md §2.3: SHA-256 prefixes of A.astype(float32).tobytes()
REFERENCE_HASHES = {
    ('nvidia', 'spatial'): '5be0331d63841c01',
    ('nvidia', 'distance'): '0c2cd1020ca81fe4',
    ('nvidia', 'uniform'): '34cc011bbb7275f2',
    ('openpose', 'spatial'): '59fc8b93edc3db5b',
    ('human3.6m', 'spatial'): 'b6bac5aada9f68f9',
    ('ntu-rgb+d', 'spatial'): '175ddf2ee0908fa4',
    ('ntu_edge', 'spatial'): '433757fabc80a571',
    ('coco', 'spatial'): 'a9ed39265a95f3ac',
}
# §2.3 check values: spatial sums and non-zeros per partition
SPATIAL_CHECKS = {
    'nvidia': ((12.5333, 19.2667, 2.2), (34, 62, 8)),
    'openpose': ((6.6667, 8.5833, 2.75), (18, 25, 9)),
    'human3.6m': ((6.1167, 8.7667, 2.1167), (17, 27, 7)),
    'ntu-rgb+d': ((8.95, 13.3, 2.75), (25, 40, 8)),
    'ntu_edge': ((8.6167, 13.7667, 1.6167), (24, 41, 5)),
    'coco': ((5.7333, 10.1, 1.1667), (17, 34, 4)),
}
LAYOUT_SIZES = {'nvidia': (34, 0, 35), 'openpose': (18, 1, 17), 'human3.6m': (17, 8, 17), 'ntu-rgb+d': (25, 20, 24),
                'ntu_edge': (24, 2, 23), 'coco': (17, 0, 19)}


@pytest.mark.parametrize('layout,strategy', sorted(REFERENCE_HASHES))
def test_adjacency_matches_tao_hash(layout, strategy):
    A = Graph(layout, strategy).A
    assert A.dtype == np.float32
    assert hashlib.sha256(A.astype(np.float32).tobytes()).hexdigest()[:16] == REFERENCE_HASHES[(layout, strategy)]


@pytest.mark.parametrize('layout', sorted(SPATIAL_CHECKS))
def test_spatial_sums_and_nonzeros(layout):
    A = Graph(layout, 'spatial').A
    sums, nnz = SPATIAL_CHECKS[layout]
    assert A.shape == (3, ) + (LAYOUT_SIZES[layout][0], ) * 2
    np.testing.assert_allclose(A.sum(axis=(1, 2)), sums, atol=1e-4)
    assert tuple(int((a != 0).sum()) for a in A) == nnz
    # every column of A summed over partitions adds up to 1 (column normalisation)
    np.testing.assert_allclose(A.sum(axis=(0, 1)), 1.0, atol=1e-6)


@pytest.mark.parametrize('layout', sorted(LAYOUT_SIZES))
def test_layout_constants(layout):
    V, center, n_links = LAYOUT_SIZES[layout]
    lay = get_layout(layout)
    assert (lay.num_node, lay.center, len(lay.edges)) == (V, center, n_links)
    assert len(lay.joint_names) == V


def test_distance_and_uniform_sums():
    np.testing.assert_allclose(Graph('nvidia', 'distance').A.sum(axis=(1, 2)), (12.533, 21.467), atol=1e-3)
    assert Graph('nvidia', 'uniform').A.shape == (1, 34, 34)
    np.testing.assert_allclose(Graph('nvidia', 'uniform').A.sum(), 34, atol=1e-4)


def test_nvidia_spatial_quirk_partition_two_exact_entries():
    """inf == inf puts every link far from the centre into 'root'; partition 2 keeps 8 entries."""
    A = Graph('nvidia', 'spatial').A
    expected = {(0, 1): 0.25, (0, 2): 0.25, (0, 3): 1 / 3, (1, 4): 1 / 3, (1, 20): 0.25, (2, 5): 1 / 3,
                (2, 21): 0.25, (3, 6): 0.2}
    got = {(int(v), int(w)): float(A[2, v, w]) for v, w in zip(*np.nonzero(A[2]))}
    assert set(got) == set(expected)
    for k, val in expected.items():
        assert got[k] == pytest.approx(val, abs=1e-7)


def test_nvidia_degrees_give_column_values():
    degrees = [4, 4, 4, 3, 3, 3, 5, 4, 4, 3, 3, 2, 2, 2, 2, 4, 3, 3, 2, 2, 4, 4, 3, 3, 6, 6, 2, 2, 2, 2, 2, 2, 2, 2]
    A = Graph('nvidia', 'uniform').A[0]
    for i, d in enumerate(degrees):
        col = A[:, i]
        np.testing.assert_allclose(col[col != 0], np.float32(1.0 / d))
        assert (col != 0).sum() == d


def test_custom_dict_layout_and_multi_hop():
    chain = dict(num_node=5, edges=[(0, 1), (1, 2), (2, 3), (3, 4)], center=2)
    g1 = Graph(chain, 'spatial')
    assert g1.A.shape == (3, 5, 5)
    g2 = Graph(chain, 'spatial', max_hop=2)
    assert g2.A.shape == (5, 5, 5)  # 1 + 2 * max_hop partitions
    assert g2.hop_dis[0, 2] == 2 and np.isinf(g2.hop_dis[0, 4])
    g3 = Graph(chain, 'distance', max_hop=2, dilation=2)  # hops 0 and 2 only
    assert g3.A.shape == (2, 5, 5)
    assert g3.A[1, 0, 2] > 0 and g3.A[1, 0, 1] == 0


def test_registered_layout_class_defined_in_test():
    @GRAPHS.register_module(name='test_triangle_layout', force=True)
    class Triangle(SkeletonLayout):
        num_node = 3
        edges = [(0, 1), (1, 2), (0, 2)]
        center = 0

    g = Graph('test_triangle_layout', 'uniform')
    np.testing.assert_allclose(g.A[0], np.full((3, 3), 1 / 3, dtype=np.float32))
    assert get_layout(dict(type='test_triangle_layout', center=1)).center == 1


@pytest.mark.parametrize('bad,msg', [
    (dict(num_node=3, edges=[(0, 3)], center=0), 'outside'),
    (dict(num_node=3, edges=[(1, 1)], center=0), 'self-link'),
    (dict(num_node=3, edges=[(0, 1)], center=5), 'center'),
    (dict(num_node=0, edges=[], center=0), 'num_node'),
    (dict(num_node=2, edges=[(0, 1)], center=0, joint_names=['a']), 'joint_names'),
    (dict(num_node=2, edges=[(0, 1.5)], center=0), 'edges'),
])
def test_bad_custom_layouts_are_rejected(bad, msg):
    with pytest.raises(ValueError, match=msg):
        Graph(bad)


def test_unknown_layout_and_strategy():
    with pytest.raises(KeyError, match='Registered layouts: .*nvidia'):
        Graph('kinect-99')
    with pytest.raises(ValueError, match='unknown graph strategy'):
        Graph('nvidia', 'radial')
    with pytest.raises(ValueError, match='max_hop'):
        Graph('nvidia', max_hop=0)
