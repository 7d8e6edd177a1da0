"""Skeleton animations: a sequence drawn with its layout's edges as a plotly figure with frames and a play button.

Channel 0 is drawn horizontally and channel 1 vertically (TAO's 3dbp / 25dbp / 2dbp features, Kinect and NTU
coordinates). Zero joints are missing (TAO's encoding of undetected joints, absent persons and padding), except
the layout's centre joint, which the 3dbp features and centring transforms put at the origin. Whether channel 1
grows downwards (image and camera coordinates) or upwards is read off the skeleton: every built-in layout has
more joints above the pelvis than below it, so the joints' mean lies on the head's side of their mid-range
(``vertical='auto'``); ``'up'`` / ``'down'`` say it explicitly.
"""
import math
from typing import TYPE_CHECKING, Any, Dict, List, Optional

import numpy as np

if TYPE_CHECKING:  # numpy only at import time: ``posecls report --help`` reads VERTICAL from here
    from posecls.graphs.layout import SkeletonLayout

#: frames per second of the recordings (DeepStream and the sample data); a thinned animation keeps real time
DEFAULT_FPS = 30.0
#: one colour per person (plotly's default qualitative colours)
PERSON_COLOURS = ('#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e')
VERTICAL = ('auto', 'up', 'down')


def present_joints(seq: np.ndarray, center: int) -> np.ndarray:
    """(T, V, M) bool: a joint is drawn when any channel is non-zero, the centre joint whenever its person is seen."""
    present = np.any(seq != 0, axis=0)
    if 0 <= center < present.shape[1]:
        present[:, center, :] |= present.any(axis=1)
    return present


def _vertical_down(y: np.ndarray) -> bool:
    lo, hi = float(y.min()), float(y.max())
    return bool(y.mean() < (lo + hi) / 2)


def _decimals(span: float) -> int:
    return int(max(0, 4 - math.floor(math.log10(span)))) if span > 0 else 4


def skeleton_animation(seq: np.ndarray, layout: 'SkeletonLayout', title: str = '', max_frames: int = 100,
                       vertical: str = 'auto', fps: float = DEFAULT_FPS, height: int = 380) -> Dict[str, Any]:
    """A plotly figure (plain dict) animating one (C, T, V, M) sequence with ``layout``'s edges.

    Args:
        seq: Keypoints (C >= 2, T, V = layout.num_node, M).
        layout: The model's skeleton layout (built-in or user-registered).
        title: Figure title.
        max_frames: Most frames in the animation (longer sequences are thinned evenly, in real time).
        vertical: ``'auto'``, ``'up'`` (channel 1 grows upwards) or ``'down'``.
        fps: Frame rate of the recording.
        height: Figure height in pixels.

    Returns:
        dict(data, layout, frames): the first frame's traces (one line trace of bones and one marker trace of
        joints per person), the axes and play/pause buttons with a frame slider, and one frame per shown time step.

    Raises:
        ValueError: a sequence whose shape does not fit the layout, or a bad ``vertical``.
    """
    seq = np.asarray(seq, dtype=np.float64)
    if seq.ndim != 4 or seq.shape[0] < 2 or seq.shape[2] != layout.num_node:
        raise ValueError(f'skeleton animation: expected (C >= 2, T, V={layout.num_node}, M) keypoints of layout '
                         f'{layout.name!r}, got shape {seq.shape}')
    if vertical not in VERTICAL:
        raise ValueError(f'vertical={vertical!r}: expected one of {VERTICAL}')
    present = present_joints(seq, layout.center)
    seen = np.flatnonzero(present.any(axis=(1, 2)))
    if seen.size == 0:
        raise ValueError('skeleton animation: the sequence has no joint (all zeros)')
    length = int(seen[-1]) + 1
    persons = [m for m in range(seq.shape[3]) if present[:, :, m].any()][:len(PERSON_COLOURS)]
    steps = np.unique(np.linspace(0, length - 1, min(length, max(1, max_frames))).round().astype(int))
    x, y = seq[0], seq[1]
    xs, ys = x[present], y[present]
    down = _vertical_down(ys) if vertical == 'auto' else vertical == 'down'
    span = max(float(xs.max() - xs.min()), float(ys.max() - ys.min()), 1e-6)
    digits = _decimals(span)
    pad = 0.08 * span
    cx, cy = (xs.max() + xs.min()) / 2, (ys.max() + ys.min()) / 2
    half = span / 2 + pad

    def traces(t: int) -> List[Dict[str, Any]]:
        out = []
        for m in persons:
            bx: List[Optional[float]] = []
            by: List[Optional[float]] = []
            for a, b in layout.edges:
                if present[t, a, m] and present[t, b, m]:
                    bx += [round(x[t, a, m], digits), round(x[t, b, m], digits), None]
                    by += [round(y[t, a, m], digits), round(y[t, b, m], digits), None]
            p = present[t, :, m]
            out.append(dict(type='scatter', mode='lines', x=bx, y=by, hoverinfo='skip',
                            line=dict(color=PERSON_COLOURS[m], width=3), name=f'person {m} bones', showlegend=False))
            out.append(dict(type='scatter', mode='markers', x=np.round(x[t, p, m], digits).tolist(),
                            y=np.round(y[t, p, m], digits).tolist(),
                            text=[layout.joint_names[v] for v in np.flatnonzero(p)], hoverinfo='text',
                            marker=dict(color=PERSON_COLOURS[m], size=5), name=f'person {m}', showlegend=False))
        return out

    stride = (length - 1) / max(len(steps) - 1, 1)
    duration = int(round(1000.0 / fps * max(stride, 1.0)))
    frames = [dict(name=str(int(t)), data=traces(int(t))) for t in steps]
    play = dict(frame=dict(duration=duration, redraw=False), fromcurrent=True, transition=dict(duration=0),
                mode='immediate')
    still = dict(frame=dict(duration=0, redraw=False), transition=dict(duration=0), mode='immediate')
    layout_dict = dict(
        title=dict(text=title, font=dict(size=13)), height=height, margin=dict(l=10, r=10, t=50, b=10),
        showlegend=False, plot_bgcolor='#fafafa',
        xaxis=dict(range=[cx - half, cx + half], showticklabels=False, zeroline=False, showgrid=False),
        yaxis=dict(range=[cy + half, cy - half] if down else [cy - half, cy + half], scaleanchor='x',
                   scaleratio=1, showticklabels=False, zeroline=False, showgrid=False),
        updatemenus=[dict(type='buttons', direction='left', showactive=False, x=0.0, y=0.0, xanchor='left',
                          yanchor='top', pad=dict(t=4, r=4), buttons=[
                              dict(label='\u25b6 play', method='animate', args=[None, play]),
                              dict(label='\u275a\u275a pause', method='animate', args=[[None], still])])],
        sliders=[dict(active=0, x=0.25, len=0.75, y=0.0, yanchor='top', pad=dict(t=4),
                      currentvalue=dict(prefix='frame ', font=dict(size=11)),
                      steps=[dict(label=str(int(t)), method='animate', args=[[str(int(t))], still])
                             for t in steps])])
    return dict(data=frames[0]['data'], layout=layout_dict, frames=frames)


def animation_title(true_name: str, pred_name: str, score: float, true_score: float, sample_name: str) -> str:
    """Two title lines of a misclassified sample: ``true X -> predicted Y`` and the scores with the sample's name."""
    return (f'true <b>{true_name}</b> \u2192 predicted <b>{pred_name}</b><br><span style="font-size:11px">'
            f'score {100 * score:.1f} % (true class {100 * true_score:.1f} %) \u00b7 {sample_name}</span>')


__all__ = ['skeleton_animation', 'present_joints', 'animation_title', 'VERTICAL']
