"""Draw a DeepStream body-pose JSON with actions (skeletons, boxes, track ids, actions) into an MP4."""
import argparse
import json
from typing import Any, Dict, List, Optional

from posecls.utils.atomic_io import atomic_write_bytes


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse ``tools/render.py`` arguments."""
    p = argparse.ArgumentParser(
        description='Render a DeepStream body-pose JSON with "action" fields (TAO\'s Triton client results.json, '
        'posecls stream --write-back, or a plain --save-pose file) into an MP4: the 2D skeleton (pose25d / pose2d) '
        'with the layout\'s edges, a box, the track id and the predicted action of every object, on a blank '
        'canvas or over the video the poses came from')
    p.add_argument('json', help='DeepStream JSON (complete or truncated)')
    p.add_argument('--out', required=True, help='output .mp4 (H.264)')
    p.add_argument('--video', help='draw over this video (frame k shows frame_num k + --frame-offset); the output '
                   'has its size and frame rate')
    p.add_argument('--width', type=int, help='blank canvas width (default 1920)')
    p.add_argument('--height', type=int, help='blank canvas height (default 1080)')
    p.add_argument('--fps', type=float, help='output frame rate (default: the video\'s, else 30)')
    p.add_argument('--input-width', type=float, help='width of the frames DeepStream ran on, if it differs from the '
                   'output (coordinates are scaled)')
    p.add_argument('--input-height', type=float, help='height of the frames DeepStream ran on')
    p.add_argument('--layout', default='nvidia', help='graph layout whose edges are drawn (default nvidia: the 34 '
                   'joints of BodyPose3DNet); a registered name')
    p.add_argument('--pose-key', choices=('auto', 'pose25d', 'pose2d'), default='auto',
                   help='the 2D pose drawn (default: pose25d when present, else pose2d)')
    p.add_argument('--batch-id', type=int, help='draw the frames of this source only (DeepStream batch_id); '
                   'needed when the file holds several sources')
    p.add_argument('--frame-offset', type=int, default=0, help='over a video: video frame k shows frame_num '
                   'k + N (default 0)')
    p.add_argument('--max-frames', type=int, help='write at most N frames')
    p.add_argument('--min-conf', type=float, default=0.0, help='joints with confidence <= this are not drawn '
                   '(default 0: DeepStream\'s undetected joints)')
    p.add_argument('--quality', type=float, default=7.0, help='video quality 0..10 (default 7)')
    p.add_argument('--no-frame-num', action='store_true', help='do not write the frame_num in the corner')
    p.add_argument('--summary-json', help='also write the summary as JSON to this file')
    p.add_argument('--verbose', action='store_true', help='tracebacks of errors')
    return p.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    """Render; prints and returns the summary."""
    args = parse_args(argv)
    from posecls.visualization.render import format_render_summary, render_video
    res = render_video(args.json, args.out, video=args.video, width=args.width, height=args.height, fps=args.fps,
                       input_width=args.input_width, input_height=args.input_height, layout=args.layout,
                       pose_key=args.pose_key, batch_id=args.batch_id, frame_offset=args.frame_offset,
                       max_frames=args.max_frames, min_conf=args.min_conf, quality=args.quality,
                       show_frame_num=not args.no_frame_num)
    print(format_render_summary(res), flush=True)
    if args.summary_json:
        atomic_write_bytes(args.summary_json, (json.dumps(res, indent=1) + '\n').encode())
    return res


if __name__ == '__main__':
    main()
