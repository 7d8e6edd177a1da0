"""The six skeleton layouts of TAO PoseClassificationNet (docs/reference.md §2.1-2.2).

Edges are 0-based neighbour links in TAO's code order. ``openpose``, ``ntu-rgb+d``
and ``ntu_edge`` equal the original ST-GCN graphs; ``nvidia``, ``human3.6m`` and
``coco`` are TAO's own. MMAction2's ``nturgb+d`` and ``coco`` graphs differ and are
not used here.
"""
from posecls.graphs.layout import SkeletonLayout
from posecls.registry import GRAPHS


@GRAPHS.register_module(name='nvidia')
class NvidiaLayout(SkeletonLayout):
    """NVIDIA 34-keypoint body (BodyPose3DNet); centre: pelvis."""

    name = 'nvidia'
    num_node = 34
    center = 0
    edges = [(0, 1), (0, 2), (0, 3), (1, 4), (2, 5), (3, 6), (4, 7), (5, 8), (7, 9), (8, 10), (9, 11), (10, 12),
             (7, 13), (8, 14), (6, 15), (15, 16), (15, 17), (16, 18), (17, 19), (1, 20), (2, 21), (6, 20), (6, 21),
             (20, 22), (21, 23), (22, 24), (23, 25), (24, 26), (25, 27), (24, 28), (25, 29), (24, 30), (25, 31),
             (24, 32), (25, 33)]
    joint_names = ['pelvis', 'left_hip', 'right_hip', 'torso', 'left_knee', 'right_knee', 'neck', 'left_ankle',
                   'right_ankle', 'left_big_toe', 'right_big_toe', 'left_small_toe', 'right_small_toe', 'left_heel',
                   'right_heel', 'nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear', 'left_shoulder',
                   'right_shoulder', 'left_elbow', 'right_elbow', 'left_wrist', 'right_wrist',
                   'left_pinky_knuckle', 'right_pinky_knuckle', 'left_middle_tip', 'right_middle_tip',
                   'left_index_knuckle', 'right_index_knuckle', 'left_thumb_tip', 'right_thumb_tip']


@GRAPHS.register_module(name='openpose')
class OpenposeLayout(SkeletonLayout):
    """OpenPose / COCO-18 keypoints (original ST-GCN Kinetics); centre: neck."""

    name = 'openpose'
    num_node = 18
    center = 1
    edges = [(4, 3), (3, 2), (7, 6), (6, 5), (13, 12), (12, 11), (10, 9), (9, 8), (11, 5), (8, 2), (5, 1), (2, 1),
             (0, 1), (15, 0), (14, 0), (17, 15), (16, 14)]
    joint_names = ['nose', 'neck', 'right_shoulder', 'right_elbow', 'right_wrist', 'left_shoulder', 'left_elbow',
                   'left_wrist', 'right_hip', 'right_knee', 'right_ankle', 'left_hip', 'left_knee', 'left_ankle',
                   'right_eye', 'left_eye', 'right_ear', 'left_ear']


@GRAPHS.register_module(name='human3.6m')
class Human36mLayout(SkeletonLayout):
    """Human3.6M 17 joints with TAO's wiring; centre: thorax. Export T is 3163."""

    name = 'human3.6m'
    num_node = 17
    center = 8
    seq_length = 3163
    edges = [(9, 10), (8, 9), (7, 8), (1, 7), (4, 7), (0, 1), (0, 4), (9, 11), (9, 14), (11, 12), (14, 15),
             (12, 13), (15, 16), (1, 2), (2, 3), (4, 5), (5, 6)]
    # Names are the usual H36M order; TAO gives none (docs/reference.md §2.2).
    joint_names = ['hip', 'right_hip', 'right_knee', 'right_foot', 'left_hip', 'left_knee', 'left_foot', 'spine',
                   'thorax', 'neck', 'head', 'left_shoulder', 'left_elbow', 'left_wrist', 'right_shoulder',
                   'right_elbow', 'right_wrist']


@GRAPHS.register_module(name='ntu-rgb+d')
class NtuRgbdLayout(SkeletonLayout):
    """NTU RGB+D 25 joints (Kinect v2) with the original ST-GCN edges; centre: spine_shoulder."""

    name = 'ntu-rgb+d'
    num_node = 25
    center = 20
    num_person = 2
    edges = [(0, 1), (1, 20), (2, 20), (3, 2), (4, 20), (5, 4), (6, 5), (7, 6), (8, 20), (9, 8), (10, 9), (11, 10),
             (12, 0), (13, 12), (14, 13), (15, 14), (16, 0), (17, 16), (18, 17), (19, 18), (21, 22), (22, 7),
             (23, 24), (24, 11)]
    joint_names = ['spine_base', 'spine_mid', 'neck', 'head', 'left_shoulder', 'left_elbow', 'left_wrist',
                   'left_hand', 'right_shoulder', 'right_elbow', 'right_wrist', 'right_hand', 'left_hip',
                   'left_knee', 'left_ankle', 'left_foot', 'right_hip', 'right_knee', 'right_ankle', 'right_foot',
                   'spine_shoulder', 'left_hand_tip', 'left_thumb', 'right_hand_tip', 'right_thumb']


@GRAPHS.register_module(name='ntu_edge')
class NtuEdgeLayout(SkeletonLayout):
    """The 24 bones of the NTU skeleton as nodes (original ST-GCN 'edge' stream); centre: 2."""

    name = 'ntu_edge'
    num_node = 24
    center = 2
    num_person = 2
    edges = [(0, 1), (2, 1), (3, 2), (4, 1), (5, 4), (6, 5), (7, 6), (8, 1), (9, 8), (10, 9), (11, 10), (12, 0),
             (13, 12), (14, 13), (15, 14), (16, 0), (17, 16), (18, 17), (19, 18), (20, 21), (21, 7), (22, 23),
             (23, 11)]


@GRAPHS.register_module(name='coco')
class CocoLayout(SkeletonLayout):
    """COCO 17 keypoints with TAO's 19 links (not MMAction2's 16-link tree); centre: nose."""

    name = 'coco'
    num_node = 17
    center = 0
    edges = [(15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (7, 5), (8, 6), (9, 7),
             (10, 8), (1, 2), (1, 0), (2, 0), (3, 1), (4, 2), (3, 5), (4, 6)]
    joint_names = ['nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear', 'left_shoulder', 'right_shoulder',
                   'left_elbow', 'right_elbow', 'left_wrist', 'right_wrist', 'left_hip', 'right_hip', 'left_knee',
                   'right_knee', 'left_ankle', 'right_ankle']
