"""The 20-joint Kinect v1 skeleton (NW-UCLA, MSR Action3D), registered the way a user adds their own layout.

Nothing in posecls knows this skeleton: this module registers it in ``posecls.registry.GRAPHS`` and the
configs under ``configs/nwucla/`` and ``configs/msr_action3d/`` import it with::

    custom_imports = dict(imports=['projects.kinect_v1.layout'], allow_failed_imports=False)

and then name it: ``graph_cfg=dict(layout='kinect-v1-20', strategy='spatial')``. Joint order, bones and
centre are the ones of the datasets' ``layout.json`` (Kinect SDK v1 order; the centre is shoulder_center,
the analogue of ntu-rgb+d's spine_shoulder), which is also CTR-GCN's ``graph/ucla.py`` graph.
"""
from posecls.graphs import SkeletonLayout
from posecls.registry import GRAPHS

JOINT_NAMES = [
    'hip_center', 'spine', 'shoulder_center', 'head', 'shoulder_left', 'elbow_left', 'wrist_left', 'hand_left',
    'shoulder_right', 'elbow_right', 'wrist_right', 'hand_right', 'hip_left', 'knee_left', 'ankle_left',
    'foot_left', 'hip_right', 'knee_right', 'ankle_right', 'foot_right'
]

#: 0-based undirected bones, as in layout.json
BONES = [(0, 1), (1, 2), (2, 3), (2, 4), (4, 5), (5, 6), (6, 7), (2, 8), (8, 9), (9, 10), (10, 11), (0, 12),
         (12, 13), (13, 14), (14, 15), (0, 16), (16, 17), (17, 18), (18, 19)]

#: joint indices the recipes use
HIP_CENTER, SPINE, SHOULDER_CENTER = 0, 1, 2


@GRAPHS.register_module(name='kinect-v1-20')
class KinectV1Layout(SkeletonLayout):
    """Kinect SDK v1 skeleton: 20 joints, 19 bones, centre shoulder_center (2); one person, 201-frame clips."""

    name = 'kinect-v1-20'
    num_node = 20
    edges = BONES
    center = SHOULDER_CENTER
    joint_names = JOINT_NAMES
    num_person = 1
    seq_length = 52
