"""Skeleton layouts: joints, neighbour links and the centre joint.

A layout is a :class:`SkeletonLayout`. Built-in layouts are registered in
``posecls.registry.GRAPHS`` under TAO's names (``nvidia``, ``openpose``,
``human3.6m``, ``ntu-rgb+d``, ``ntu_edge``, ``coco``). A user adds one by
registering a subclass::

    from posecls.graphs import SkeletonLayout
    from posecls.registry import GRAPHS

    @GRAPHS.register_module()
    class Kinect20(SkeletonLayout):
        num_node = 20
        edges = [(0, 1), (1, 2), ...]
        center = 2

or by passing a plain dict ``dict(num_node=20, edges=[...], center=2)`` wherever
a layout is accepted (``Graph(layout=...)``, ``graph_cfg=dict(layout=...)``).
"""
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from posecls.registry import GRAPHS

Edge = Tuple[int, int]
LayoutLike = Union[str, dict, 'SkeletonLayout', type]


class SkeletonLayout:
    """A skeleton: number of joints, undirected neighbour links and a centre.

    Class attributes define a layout; instances may override them through the
    constructor, which validates everything.

    Args:
        name (str, optional): Layout name used in messages. Defaults to the class name.
        num_node (int, optional): Number of joints V.
        edges (sequence of (int, int), optional): 0-based neighbour links (no
            self-links; they are added when the graph is built).
        center (int, optional): 0-based index of the centre joint used by the
            ``spatial`` partition strategy.
        joint_names (sequence of str, optional): One name per joint.
        num_person (int, optional): Persons M of the export dummy input. Defaults to 1.
        seq_length (int, optional): Frames T of the export dummy input. Defaults to 300.

    Raises:
        ValueError: if a field is missing or inconsistent (index out of range,
            wrong number of joint names, self-links, non-integer values).
    """

    name: Optional[str] = None
    num_node: Optional[int] = None
    edges: Sequence[Edge] = ()
    center: Optional[int] = None
    joint_names: Optional[Sequence[str]] = None
    num_person: int = 1
    seq_length: int = 300

    def __init__(self,
                 name: Optional[str] = None,
                 num_node: Optional[int] = None,
                 edges: Optional[Sequence[Sequence[int]]] = None,
                 center: Optional[int] = None,
                 joint_names: Optional[Sequence[str]] = None,
                 num_person: Optional[int] = None,
                 seq_length: Optional[int] = None) -> None:
        self.name = name if name is not None else (type(self).name or type(self).__name__)
        self.num_node = num_node if num_node is not None else type(self).num_node
        raw_edges = edges if edges is not None else type(self).edges
        self.center = center if center is not None else type(self).center
        names = joint_names if joint_names is not None else type(self).joint_names
        self.num_person = num_person if num_person is not None else type(self).num_person
        self.seq_length = seq_length if seq_length is not None else type(self).seq_length
        self.edges = self._validate(raw_edges, names)
        self.joint_names = list(names) if names is not None else [f'joint_{i}' for i in range(self.num_node)]

    def _validate(self, raw_edges: Sequence[Sequence[int]], names: Optional[Sequence[str]]) -> List[Edge]:
        where = f"skeleton layout '{self.name}'"
        if not isinstance(self.num_node, int) or isinstance(self.num_node, bool) or self.num_node < 1:
            raise ValueError(f'{where}: num_node must be a positive int, got {self.num_node!r}')
        V = self.num_node
        if not isinstance(self.center, int) or isinstance(self.center, bool) or not 0 <= self.center < V:
            raise ValueError(f'{where}: center must be an int joint index in [0, {V - 1}], got {self.center!r}')
        edges: List[Edge] = []
        for k, e in enumerate(raw_edges):
            if len(e) != 2 or not all(isinstance(i, int) and not isinstance(i, bool) for i in e):
                raise ValueError(f'{where}: edges[{k}] must be a pair of int joint indices, got {e!r}')
            a, b = int(e[0]), int(e[1])
            if not (0 <= a < V and 0 <= b < V):
                raise ValueError(f'{where}: edges[{k}] = {tuple(e)} has a joint index outside [0, {V - 1}] '
                                 f'(edges are 0-based)')
            if a == b:
                raise ValueError(f'{where}: edges[{k}] = {tuple(e)} is a self-link; list neighbour links only')
            edges.append((a, b))
        if names is not None and len(names) != V:
            raise ValueError(f'{where}: joint_names has {len(names)} names for num_node={V}')
        for p, val in (('num_person', self.num_person), ('seq_length', self.seq_length)):
            if not isinstance(val, int) or isinstance(val, bool) or val < 1:
                raise ValueError(f'{where}: {p} must be a positive int, got {val!r}')
        return edges

    @property
    def self_links(self) -> List[Edge]:
        """Self-links ``(i, i)`` for every joint."""
        return [(i, i) for i in range(self.num_node)]

    def to_dict(self) -> Dict[str, Any]:
        """Return the layout as a plain dict (the custom-layout config form)."""
        return dict(name=self.name, num_node=self.num_node, edges=[list(e) for e in self.edges],
                    center=self.center, joint_names=list(self.joint_names), num_person=self.num_person,
                    seq_length=self.seq_length)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(name={self.name!r}, num_node={self.num_node}, '
                f'num_edges={len(self.edges)}, center={self.center})')


def get_layout(layout: LayoutLike) -> SkeletonLayout:
    """Resolve a layout name, dict, class or instance to a :class:`SkeletonLayout`.

    Args:
        layout: A registered name (``'nvidia'``, ``'human3.6m'``, ``'myscope.MyLayout'``),
            a dict of :class:`SkeletonLayout` fields, a subclass or an instance.

    Returns:
        SkeletonLayout: the validated layout.

    Raises:
        KeyError: for an unknown name (the message lists the registered ones).
        TypeError: for any other kind of value.
    """
    if isinstance(layout, SkeletonLayout):
        return layout
    if isinstance(layout, type) and issubclass(layout, SkeletonLayout):
        return layout()
    if isinstance(layout, dict):
        cfg = dict(layout)
        if 'type' in cfg:  # dict(type='MyLayout', center=3): a registered class with overrides
            cls = _lookup(cfg.pop('type'))
            return cls(**cfg)
        cfg.setdefault('name', 'custom')
        return SkeletonLayout(**cfg)
    if isinstance(layout, str):
        return _lookup(layout)()
    raise TypeError(f'layout must be a registered name, a dict, or a SkeletonLayout; got {type(layout).__name__}')


def _lookup(name: str) -> type:
    # Built-in names contain dots ('human3.6m'), which mmengine's Registry.get
    # would read as a scope prefix, so look in the registry's own table first.
    cls = GRAPHS.module_dict.get(name)
    if cls is None and '.' in name:
        cls = GRAPHS.get(name)
    if cls is None:
        known = ', '.join(sorted(GRAPHS.module_dict))
        raise KeyError(f"unknown skeleton layout '{name}'. Registered layouts: {known}. "
                       f'Register your own with @posecls.registry.GRAPHS.register_module() '
                       f'or pass dict(num_node=..., edges=[...], center=...).')
    return cls
