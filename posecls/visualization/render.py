"""Draw DeepStream body-pose JSON with actions into an MP4: skeletons, boxes, track ids, predicted actions.

Input: the JSON of deepstream-bodypose-3d ``--save-pose`` with an ``"action"`` on each object, as TAO's Triton
client writes it (``results.json``, docs/reference.md §5.4, §7.3) or ``posecls stream --write-back``; a file
without actions is drawn too (ids only). It is read with the one DeepStream JSON reader
(:class:`posecls.datasets.deepstream.DeepStreamJsonReader`), streaming, a frame at a time, so the memory used
does not grow with the file. Per object:

- the 2D skeleton: ``pose25d`` (34 x [x, y, zRel, conf], pixels of the frame DeepStream saw) or ``pose2d``
  (V x [x, y, conf] or V x [x, y, z, conf]); joints with conf <= ``min_conf`` are not drawn, nor their
  edges; the edges are the graph layout's (default ``nvidia``, the 34 joints of BodyPose3DNet);
- its box: the object's ``bbox`` when it has one (``[left, top, width, height]`` or a mapping with those
  keys; the upstream JSON has none, docs/reference.md §5.1), else the box around its drawn joints;
- a label above the box: the track id and the action (``""``: the id only).

Frames: on a blank canvas, output frame k shows ``frame_num`` = first frame_num + k (frames without objects
stay empty); over a video, video frame k shows ``frame_num`` = k + ``frame_offset`` and the output has the
video's length and frame rate. The MP4 (H.264, yuv420p) is written by imageio-ffmpeg's ffmpeg, atomically.
"""
import os.path as osp
import zlib
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from posecls.utils.atomic_io import atomic_path

#: ``pose_key`` values: which 2D pose of an object is drawn
POSE_KEYS = ('auto', 'pose25d', 'pose2d')
#: blank canvas colour (RGB)
BACKGROUND = (24, 24, 28)
#: matplotlib's tab10 colours, one per track (by id)
PALETTE = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
           (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207))


def _import_ffmpeg() -> Any:
    try:
        import imageio_ffmpeg
    except ImportError as e:
        raise RuntimeError(f'posecls render writes MP4 through imageio-ffmpeg ({e}): pip install "posecls[render]"'
                           ) from e
    return imageio_ffmpeg


@dataclass
class RenderedObject:
    """One object of one frame, ready to draw.

    Attributes:
        object_id: The tracker id.
        xy: (V, 2) float64 joint pixel coordinates in the output frame.
        visible: (V,) bool, joints to draw.
        action: The predicted action (``""``: none).
        bbox: (left, top, right, bottom) in output pixels, or None to use the joints' box.
        color: RGB of its drawing (None: :func:`track_color` of its id).
    """

    object_id: Any
    xy: np.ndarray
    visible: np.ndarray
    action: str
    bbox: Optional[Tuple[float, float, float, float]] = None
    color: Optional[Tuple[int, int, int]] = None


def track_color(object_id: Any) -> Tuple[int, int, int]:
    """The RGB colour of a track: tab10 by integer id, else by a hash of the id's text."""
    try:
        k = int(object_id)
    except (TypeError, ValueError):
        k = zlib.crc32(str(object_id).encode())
    return PALETTE[k % len(PALETTE)]


def _where(path: str, frame: Mapping[str, Any], obj: Optional[Mapping[str, Any]] = None) -> str:
    text = f'{path}: frame_num {frame.get("frame_num")}'
    return text + (f', object_id {obj.get("object_id")}' if obj is not None else '')


def _bbox(value: Any, where: str, sx: float, sy: float) -> Tuple[float, float, float, float]:
    """(left, top, right, bottom) in output pixels from ``[left, top, width, height]`` or such a mapping."""
    if isinstance(value, Mapping):
        try:
            value = [value[k] for k in ('left', 'top', 'width', 'height')]
        except KeyError:
            raise ValueError(f'{where}: bbox {dict(value)!r} needs the keys left, top, width, height') from None
    try:
        left, top, w, h = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f'{where}: bbox {value!r} is not [left, top, width, height]') from None
    if not np.isfinite([left, top, w, h]).all() or w < 0 or h < 0:
        raise ValueError(f'{where}: bbox {value!r} needs finite numbers and width, height >= 0')
    return (left * sx, top * sy, (left + w) * sx, (top + h) * sy)


def frame_objects(frame: Mapping[str, Any], path: str, num_joints: int, pose_key: str = 'auto',
                  scale: Tuple[float, float] = (1.0, 1.0), min_conf: float = 0.0) -> List[RenderedObject]:
    """The objects of one DeepStream frame entry as :class:`RenderedObject` (coordinates scaled to the output).

    Args:
        frame: A frame object (``frame_num``, ``objects``) as Python values.
        path: The JSON file (for messages).
        num_joints: V of the layout.
        pose_key: ``pose25d``, ``pose2d`` or ``auto`` (``pose25d`` when the object has it, else ``pose2d``).
        scale: (sx, sy) from the frame DeepStream saw to the output frame.
        min_conf: Joints with a confidence <= this are not drawn.

    Raises:
        ValueError: an object without the pose, a pose whose length is not V x 3 or V x 4, non-finite
            coordinates of a drawn joint, an id-less object or a bad ``bbox``; the message names the file, the
            frame_num and the object_id.
    """
    if pose_key not in POSE_KEYS:
        raise ValueError(f'pose_key={pose_key!r}: expected one of {POSE_KEYS}')
    objects = frame.get('objects')
    if objects is None:
        objects = []
    if not isinstance(objects, list):
        raise ValueError(f'{_where(path, frame)}: "objects" is {type(objects).__name__}; expected a list')
    out = []
    sx, sy = scale
    for obj in objects:
        if not isinstance(obj, Mapping) or 'object_id' not in obj:
            raise ValueError(f'{_where(path, frame)}: an object without "object_id": {str(obj)[:80]}')
        where = _where(path, frame, obj)
        key = pose_key if pose_key != 'auto' else ('pose25d' if 'pose25d' in obj else 'pose2d')
        pose = obj.get(key)
        if pose is None:
            raise ValueError(f'{where}: no "{key}" to draw (render draws the 2D pose: pose25d, as '
                             'deepstream-bodypose-3d writes it, or pose2d)')
        try:
            a = np.asarray(pose, dtype=np.float64).ravel()
        except (TypeError, ValueError):
            raise ValueError(f'{where}: "{key}" is not a list of numbers') from None
        if a.size not in (3 * num_joints, 4 * num_joints):
            raise ValueError(f'{where}: "{key}" has {a.size} numbers; expected {num_joints} joints x 3 '
                             f'(x, y, conf) or x 4 (x, y, z, conf) = {3 * num_joints} or {4 * num_joints} '
                             '(is the layout right? --layout)')
        a = a.reshape(num_joints, -1)
        visible = a[:, -1] > min_conf
        if not np.isfinite(a[visible, :2]).all():
            raise ValueError(f'{where}: "{key}" holds non-finite coordinates of visible joints')
        xy = a[:, :2] * (sx, sy)
        action = obj.get('action')
        action = '' if action is None else str(action)
        box = obj.get('bbox')
        out.append(RenderedObject(obj['object_id'], xy, visible, action,
                                  None if box is None else _bbox(box, where, sx, sy)))
    return out


def object_box(obj: RenderedObject, margin: float = 0.08) -> Optional[Tuple[float, float, float, float]]:
    """(left, top, right, bottom): the object's ``bbox``, else its drawn joints' box widened by ``margin``.

    Returns None when the object has neither a bbox nor a visible joint.
    """
    if obj.bbox is not None:
        return obj.bbox
    if not obj.visible.any():
        return None
    p = obj.xy[obj.visible]
    (x0, y0), (x1, y1) = p.min(0), p.max(0)
    dx, dy = margin * max(x1 - x0, 1.0), margin * max(y1 - y0, 1.0)
    return (x0 - dx, y0 - dy, x1 + dx, y1 + dy)


def _font(size: int) -> Any:
    from PIL import ImageFont
    return ImageFont.load_default(size=size)


def draw_frame(image: np.ndarray, objects: Sequence[RenderedObject], edges: Sequence[Tuple[int, int]],
               frame_num: Optional[int] = None, font: Any = None) -> np.ndarray:
    """Draw ``objects`` onto a copy of ``image``.

    Args:
        image: (H, W, 3) uint8 RGB.
        objects: What to draw.
        edges: Joint pairs of the layout.
        frame_num: Written in the top-left corner when given.
        font: A Pillow font (default: Pillow's own font sized to the frame).

    Returns:
        (H, W, 3) uint8 RGB.
    """
    from PIL import Image, ImageDraw
    h, w = image.shape[:2]
    img = Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8), 'RGB')
    draw = ImageDraw.Draw(img)
    line = max(1, round(min(w, h) / 300))
    radius = line + 1
    font = font or _font(max(10, round(h / 36)))
    for obj in objects:
        color = obj.color or track_color(obj.object_id)
        box = object_box(obj)
        for i, j in edges:
            if obj.visible[i] and obj.visible[j]:
                draw.line([tuple(obj.xy[i]), tuple(obj.xy[j])], fill=color, width=line + 1)
        for x, y in obj.xy[obj.visible]:
            draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=(255, 255, 255), outline=color)
        if box is None:
            continue
        draw.rectangle(box, outline=color, width=line)
        text = f'{obj.object_id} {obj.action}' if obj.action else f'{obj.object_id}'
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        tw, th = right - left + 2 * line + 2, bottom - top + 2 * line + 2
        x0 = min(max(box[0], 0), max(w - tw, 0))
        y0 = box[1] - th if box[1] - th >= 0 else min(max(box[1], 0), max(h - th, 0))
        draw.rectangle([x0, y0, x0 + tw, y0 + th], fill=color)
        draw.text((x0 + line + 1 - left, y0 + line + 1 - top), text, fill=(255, 255, 255), font=font)
    if frame_num is not None:
        draw.text((4, 4), f'frame {frame_num}', fill=(235, 235, 235), font=font)
    return np.asarray(img)


class _Frames:
    """DeepStreamJsonReader handler: every frame entry, in file order, as Python values, to ``on_frame``."""

    def __init__(self, on_frame: Callable[[Dict[str, Any]], None]) -> None:
        self.on_frame = on_frame

    def __call__(self, elements: Any, first_index: int, offset: int, partial: bool) -> int:
        n = 0
        for batch in elements.as_list():
            for frame in (batch.get('batches') or []) if isinstance(batch, dict) else []:
                self.on_frame(frame)
                n += 1
        return n

    def frames(self, frames: Any, batch_index: int, offset: int) -> int:
        got = frames.as_list()
        for frame in got:
            self.on_frame(frame)
        return len(got)

    def batch_end(self, head: Any, batch_index: int, offset: int, frames: int, partial: bool) -> None:
        return None


def _video_frames(video: str, read_frames: Callable) -> Tuple[Dict[str, Any], Iterator[np.ndarray]]:
    if not osp.isfile(video):
        raise FileNotFoundError(f'render: video not found: {video}')
    gen = read_frames(video)
    try:
        meta = next(gen)
    except (RuntimeError, OSError, StopIteration) as e:
        raise ValueError(f'{video}: ffmpeg cannot read this video ({" ".join(str(e).split())[:300]})') from e
    w, h = (int(v) for v in meta['size'])

    def frames() -> Iterator[np.ndarray]:
        try:
            for raw in gen:
                yield np.frombuffer(raw, np.uint8).reshape(h, w, 3)
        finally:
            gen.close()
    return meta, frames()


def render_video(json_path: str, out: str, *, video: Optional[str] = None, width: Optional[int] = None,
                 height: Optional[int] = None, fps: Optional[float] = None, input_width: Optional[float] = None,
                 input_height: Optional[float] = None, layout: Any = 'nvidia', pose_key: str = 'auto',
                 batch_id: Optional[int] = None, frame_offset: int = 0, max_frames: Optional[int] = None,
                 min_conf: float = 0.0, quality: float = 7.0, show_frame_num: bool = True) -> Dict[str, Any]:
    """Render a DeepStream JSON (with ``action`` fields) into an MP4.

    Args:
        json_path: The DeepStream JSON (``--save-pose``, TAO Triton client ``results.json``, or
            ``posecls stream --write-back``).
        out: Output ``.mp4`` (written atomically).
        video: Draw over this video (any format ffmpeg reads) instead of a blank canvas.
        width, height: Size of the blank canvas (default 1920 x 1080, TAO's input size); not with ``video``.
        fps: Frame rate of the output (default: the video's, else 30).
        input_width, input_height: Size of the frames the poses were computed on (default: the output size); the
            coordinates are scaled from it to the output.
        layout: Graph layout whose edges are drawn (a name, a :class:`SkeletonLayout` or a dict); its joint count
            must match the poses.
        pose_key: ``auto``, ``pose25d`` or ``pose2d`` (see :func:`frame_objects`).
        batch_id: Draw the frames of this source (``batch_id``) only; None: the file must hold one source.
        frame_offset: Over a video, video frame k shows ``frame_num`` k + frame_offset.
        max_frames: Write at most this many frames.
        min_conf: Joints with confidence <= this are not drawn.
        quality: imageio-ffmpeg quality 0..10 (10 best).
        show_frame_num: Write the frame_num in the top-left corner.

    Returns:
        dict: ``path``, ``frames`` (written), ``width``, ``height``, ``fps``, ``first_frame_num``,
        ``frames_drawn`` (JSON frames drawn), ``objects`` (distinct ids drawn), ``appearances``,
        ``actions`` ({action: appearances}, ``""`` = none), ``skipped`` ({reason: JSON frames}).

    Raises:
        FileNotFoundError: missing JSON or video.
        ValueError: bad options, an unreadable video, a JSON the reader refuses, frames of several sources
            without ``batch_id``, frame_nums that go backwards, or bad objects (see :func:`frame_objects`);
            no output file is left behind.
    """
    from posecls.datasets.deepstream import DeepStreamJsonReader
    from posecls.graphs import get_layout

    ffmpeg = _import_ffmpeg()
    if not osp.isfile(json_path):
        raise FileNotFoundError(f'render: DeepStream JSON not found: {json_path}')
    if video is not None and (width is not None or height is not None):
        raise ValueError('render: width / height set the blank canvas; over a video the output has its size')
    if max_frames is not None and max_frames < 1:
        raise ValueError(f'render: max_frames={max_frames}: expected >= 1')
    if fps is not None and not fps > 0:
        raise ValueError(f'render: fps={fps}: expected > 0')
    if not 0 <= quality <= 10:
        raise ValueError(f'render: quality={quality}: expected 0..10')
    lay = get_layout(layout)
    edges = [tuple(e) for e in lay.edges]
    background: Optional[Iterator[np.ndarray]] = None
    if video is not None:
        meta, background = _video_frames(video, ffmpeg.read_frames)
        w, h = (int(v) for v in meta['size'])
        fps = fps or float(meta.get('fps') or 30.0)
    else:
        w, h = int(width or 1920), int(height or 1080)
        fps = fps or 30.0
    if w < 2 or h < 2:
        raise ValueError(f'render: output size {w}x{h}: expected at least 2x2')
    iw, ih = float(input_width or w), float(input_height or h)
    if not (iw > 0 and ih > 0):
        raise ValueError(f'render: input size {iw}x{ih}: expected > 0')
    scale = (w / iw, h / ih)
    font = _font(max(10, round(h / 36)))
    blank = np.empty((h, w, 3), np.uint8)
    blank[:] = BACKGROUND
    ew, eh = w + w % 2, h + h % 2  # yuv420p needs even sizes: an odd frame gets a copy of its last row/column
    stats: Dict[str, Any] = dict(frames=0, frames_drawn=0, appearances=0, actions={}, ids=set(),
                                 skipped=dict(other_batch_id=0, before_video=0, beyond_end=0))
    colors: Dict[str, Tuple[int, int, int]] = {}
    state: Dict[str, Any] = dict(first=None, current=None, objects=[], batch_ids=set(), done=False)

    def write(frame_objs: List[RenderedObject], frame_num: int) -> bool:
        """Write the next output frame; False when the output is complete (end of the video, or max_frames)."""
        if max_frames is not None and stats['frames'] >= max_frames:
            return False
        bg = blank if background is None else next(background, None)
        if bg is None:
            return False
        img = draw_frame(bg, frame_objs, edges, frame_num if show_frame_num else None, font) if (
            frame_objs or show_frame_num) else bg
        if (ew, eh) != (w, h):
            img = np.pad(img, ((0, eh - h), (0, ew - w), (0, 0)), mode='edge')
        writer.send(np.ascontiguousarray(img).tobytes())
        stats['frames'] += 1
        return True

    def index_of(frame_num: int) -> int:
        """Output frame of a frame_num."""
        return frame_num - frame_offset if video is not None else frame_num - state['first']

    def flush_until(index: int) -> None:
        """Write the pending frame and the empty frames before output frame ``index``."""
        while not state['done'] and stats['frames'] < index:
            k = stats['frames']
            pending = state['current'] is not None and index_of(state['current']) == k
            objs = state['objects'] if pending else []
            if not write(objs, k + (frame_offset if video is not None else state['first'])):
                state['done'] = True
                if pending:
                    stats['skipped']['beyond_end'] += 1
                break
            if pending:
                stats['frames_drawn'] += 1
                for o in objs:
                    stats['ids'].add(str(o.object_id))
                    stats['appearances'] += 1
                    stats['actions'][o.action] = stats['actions'].get(o.action, 0) + 1

    def on_frame(frame: Dict[str, Any]) -> None:
        if not isinstance(frame, dict) or not isinstance(frame.get('frame_num'), int):
            raise ValueError(f'{json_path}: a frame entry without an integer "frame_num": {str(frame)[:80]}')
        bid = frame.get('batch_id')
        if batch_id is not None and bid != batch_id:
            stats['skipped']['other_batch_id'] += 1
            return
        state['batch_ids'].add(bid)
        if len(state['batch_ids']) > 1:
            raise ValueError(f'{json_path}: frames of several sources (batch_id '
                             f'{", ".join(map(str, sorted(state["batch_ids"], key=str)))}); choose one with '
                             'batch_id (--batch-id)')
        fn = frame['frame_num']
        if state['first'] is None:
            state['first'] = fn
        if state['done']:
            stats['skipped']['beyond_end'] += 1
            return
        if index_of(fn) < 0:
            stats['skipped']['before_video'] += 1
            return
        objs = frame_objects(frame, json_path, lay.num_node, pose_key, scale, min_conf)
        for o in objs:  # tracks take the palette's colours in order of first appearance
            o.color = colors.setdefault(str(o.object_id), PALETTE[len(colors) % len(PALETTE)])
        cur = state['current']
        if cur is not None and fn == cur:  # the same frame listed twice: draw both entries' objects
            state['objects'] += objs
            return
        if cur is not None and fn < cur:
            raise ValueError(f'{_where(json_path, frame)} comes after frame_num {cur}: the frames are not in order')
        flush_until(index_of(fn))  # the pending frame, then empty frames up to this one
        if state['done']:
            stats['skipped']['beyond_end'] += 1
            return
        state['current'], state['objects'] = fn, objs

    with atomic_path(out) as tmp:
        writer = ffmpeg.write_frames(tmp, (ew, eh), fps=fps, quality=quality, codec='libx264',
                                     macro_block_size=2, ffmpeg_log_level='error',
                                     output_params=['-f', 'mp4'])
        writer.send(None)  # start ffmpeg
        try:
            report = DeepStreamJsonReader(json_path).read(_Frames(on_frame))
            if state['current'] is not None and not state['done']:
                flush_until(index_of(state['current']) + 1)
            if background is not None:  # the rest of the video
                while not state['done'] and write([], stats['frames'] + frame_offset):
                    pass
            if stats['frames'] == 0:
                raise ValueError(f'{json_path}: nothing to render: no frame entry'
                                 + (f' with batch_id {batch_id}' if batch_id is not None else '')
                                 + (' at or after the video start' if video is not None else ''))
        finally:
            writer.close()
            if background is not None:
                background.close()
    actions = dict(sorted(stats['actions'].items()))
    return dict(path=out, frames=stats['frames'], width=ew, height=eh, fps=fps, first_frame_num=state['first'],
                frames_drawn=stats['frames_drawn'], objects=len(stats['ids']), appearances=stats['appearances'],
                actions=actions, skipped=stats['skipped'], truncated=report.truncated)


def format_render_summary(res: Dict[str, Any]) -> str:
    """One line about a :func:`render_video` result."""
    acts = ', '.join(f'{k or "(none)"}={v}' for k, v in res['actions'].items()) or 'none'
    skipped = ', '.join(f'{k}={v}' for k, v in res['skipped'].items() if v)
    return (f"Rendered {res['path']}: {res['frames']} frames {res['width']}x{res['height']} at {res['fps']:g} fps, "
            f"{res['frames_drawn']} JSON frames drawn, {res['objects']} objects, {res['appearances']} appearances "
            f"(actions: {acts})" + (f'; skipped JSON frames: {skipped}' if skipped else '')
            + ('; the JSON is truncated (its complete frames were drawn)' if res['truncated'] else ''))


__all__ = ['render_video', 'format_render_summary', 'frame_objects', 'object_box', 'draw_frame', 'track_color',
           'RenderedObject', 'POSE_KEYS']
