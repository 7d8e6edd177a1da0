"""Live per-track action recognition from DeepStream body-pose JSON: a file (followed), stdin or MQTT.

    python tools/stream.py CONFIG CHECKPOINT --source SRC --out OUT [--stride N] [--mqtt-out URL] [--write-back F]
    python tools/stream.py CONFIG --server HOST:PORT --source SRC --out OUT      # a running Triton server

Guide: docs/streaming.md. The library is :mod:`posecls.streaming`.
"""
import argparse
import json
import signal
import sys
import threading
from typing import Any, Dict, List, Optional

from posecls.tools.common import DictAction

#: T of a PyTorch model's windows when --sequence-length-max is not given (TAO's sequence_length_max)
DEFAULT_T = 300


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse ``tools/stream.py`` arguments."""
    p = argparse.ArgumentParser(
        description='Classify the action of every tracked person, live, from DeepStream body-pose JSON '
        '(docs/streaming.md)')
    p.add_argument('config', help='config file (model, test pipeline, class names)')
    p.add_argument('checkpoint', nargs='?', help='checkpoint (.pth) or an exported model (.onnx, OpenVINO .xml, '
                   'TensorRT engine); '
                   'not with --server')
    io = p.add_argument_group('input and output')
    io.add_argument('--source', required=True, metavar='SRC',
                    help='a DeepStream --save-pose JSON file, - (stdin: one batch element per line) or '
                    'mqtt://HOST[:PORT]/TOPIC (one batch element per message)')
    io.add_argument('--follow', action='store_true',
                    help='keep reading a JSON file that is still being written, until its closing "]"')
    io.add_argument('--idle-timeout', type=float, metavar='S',
                    help='end the stream after S seconds without a message (default: wait forever for a live '
                    'source; a plain file or stdin ends at its end)')
    io.add_argument('--out', required=True, metavar='OUT',
                    help='JSON lines, one per action: {"frame_num", "object_id", "action", "score", "logits"}; '
                    'a file (truncated at start) or - (stdout)')
    io.add_argument('--mqtt-out', metavar='URL', help='also publish each line to mqtt://HOST[:PORT]/TOPIC')
    io.add_argument('--qos', type=int, choices=(0, 1, 2), default=0, help='MQTT QoS of the subscription and of '
                    'the published actions (default 0)')
    io.add_argument('--write-back', metavar='FILE', help='also write the messages used as a DeepStream JSON array '
                    'with "action" on every object (like TAO\'s Triton client results.json)')
    io.add_argument('--summary-json', metavar='FILE', help='write the end-of-stream summary (counts, latency) here')
    tr = p.add_argument_group('tracks')
    tr.add_argument('--stride', type=int, default=30,
                    help='classify a track every N of its appearances (default 30: once a second at 30 fps)')
    tr.add_argument('--expiry', type=float, default=2.0, metavar='S',
                    help='free a track after S seconds of stream time without an appearance (default 2)')
    tr.add_argument('--max-tracks', type=int, default=100, help='most live tracks (default 100)')
    tr.add_argument('--evict-idle', type=float, default=0.5, metavar='S',
                    help='at the cap, evict the track idle longest for a new id if it has been idle S seconds '
                    '(default 0.5); otherwise the new id waits')
    tr.add_argument('--clock', choices=('ntp', 'frame'), default='ntp',
                    help='stream time: ntp_timestamp (default) or frame_num / --fps')
    tr.add_argument('--fps', type=float, default=30.0, help='frames per second of --clock frame (default 30)')
    cv = p.add_argument_group('normalisation and windows (dataset_convert options)')
    cv.add_argument('--pose-type', default='3dbp', help='3dbp (default), 25dbp or 2dbp')
    cv.add_argument('--num-joints', type=int, default=34)
    cv.add_argument('--input-width', type=float, default=1920)
    cv.add_argument('--input-height', type=float, default=1080)
    cv.add_argument('--focal-length', type=float, default=1200.0)
    cv.add_argument('--sequence-length', type=int, default=100, help='window length L (default 100)')
    cv.add_argument('--sequence-length-min', type=int, default=10,
                    help='classify a track once it has this many appearances (default 10)')
    cv.add_argument('--sequence-length-max', type=int,
                    help=f'T of the model input (windows are zero-padded to it); default: the exported model\'s T, '
                    f'{DEFAULT_T} for a checkpoint')
    md = p.add_argument_group('model')
    md.add_argument('--max-batch', type=int, default=2,
                    help='windows per model call (default 2, the fastest on a 2-core CPU: docs/benchmarks.md; a '
                    'message\'s windows are never split)')
    md.add_argument('--backend', help='runtime of an exported model: onnxruntime, openvino or tensorrt (default: by '
                    'suffix: .onnx onnxruntime, .xml openvino, .engine/.plan tensorrt)')
    md.add_argument('--precision', help='precision of the runtime: f32, bf16 (openvino) or int8 (a model from '
                    'posecls-quantize); default: as the model file holds it')
    md.add_argument('--device', default='cpu')
    md.add_argument('--server', metavar='HOST:PORT', help='classify with a running Triton server (tritonclient) '
                    'instead of a local model')
    md.add_argument('--model-name', default='pose_classification_tao', help='model served by --server')
    md.add_argument('--protocol', default='http', help='--server protocol: http (default) or grpc')
    md.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config entries')
    p.add_argument('--verbose', action='store_true', help='tracebacks of errors')
    return p.parse_args(argv)


def _backend_options(args: argparse.Namespace) -> Dict[str, Any]:
    """``--backend`` / ``--precision`` for ``init_model`` (checked before work; only for an exported model)."""
    from posecls.deploy.backends import backend_options
    return backend_options(args.checkpoint, args.backend, args.precision)


def build_model(args: argparse.Namespace) -> Any:
    """The model of the command line: a checkpoint / exported model (``init_model``) or a Triton server."""
    if args.server:
        if args.checkpoint:
            raise ValueError(f'give a CHECKPOINT or --server, not both (got {args.checkpoint} and {args.server})')
        for k in ('backend', 'precision'):
            if getattr(args, k) is not None:
                raise ValueError(f'--{k} chooses a local runtime; the Triton server at {args.server} runs its own')
        from posecls.deploy.triton.triton_client import TritonBackend
        from posecls.tools.common import load_config
        cfg = load_config(args.config, args.cfg_options)
        backend = TritonBackend(args.server, args.model_name, protocol=args.protocol, cfg=cfg)
        backend.batch_size = backend.model['max_batch_size'] or 1  # requests as large as the served model takes
        return backend
    if not args.checkpoint:
        raise ValueError('give a CHECKPOINT (.pth, .onnx, engine) or --server HOST:PORT of a running Triton server')
    from posecls.apis.inference import init_model
    return init_model(args.config, args.checkpoint, device=args.device, cfg_options=args.cfg_options,
                      **_backend_options(args))


def stream_options(args: argparse.Namespace, model: Any) -> Any:
    """:class:`~posecls.streaming.StreamOptions` of the command line, T checked against the model's."""
    from posecls.datasets.deepstream.options import ConvertOptions
    from posecls.streaming import StreamOptions, model_input_shape
    t_model = model_input_shape(model)[1]
    T = args.sequence_length_max
    where = getattr(model, 'model_file', None) or args.server or args.checkpoint
    if t_model is not None:
        if T is not None and T != t_model:
            raise ValueError(f'--sequence-length-max {T}: {where} takes T = {t_model} (its input is fixed)')
        T = t_model
    elif T is None:
        T = DEFAULT_T
    if isinstance(args.sequence_length, int) and args.sequence_length > T:
        raise ValueError(f'--sequence-length {args.sequence_length} is longer than the model input T = {T} '
                         f'({where}): use --sequence-length <= {T}')
    convert = ConvertOptions(pose_type=args.pose_type, num_joints=args.num_joints, input_width=args.input_width,
                             input_height=args.input_height, focal_length=args.focal_length, sequence_length_max=T,
                             sequence_length_min=args.sequence_length_min, sequence_length=args.sequence_length)
    return StreamOptions(convert, stride=args.stride, expiry_s=args.expiry, max_tracks=args.max_tracks,
                         evict_idle_s=args.evict_idle, clock=args.clock, fps=args.fps, max_batch=args.max_batch,
                         idle_timeout_s=args.idle_timeout)


def report(text: str) -> None:
    """One line on stderr."""
    print(f'stream: {text}', file=sys.stderr, flush=True)


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    """Run the stream until its input ends, the idle timeout, or SIGTERM; returns the summary (a dict)."""
    args = parse_args(argv)
    from posecls.streaming import JsonLinesSink, MqttSink, StreamEngine, WriteBackSink, open_source, parse_mqtt_url
    if args.mqtt_out:
        parse_mqtt_url(args.mqtt_out, '--mqtt-out', wildcards=False)  # checked before anything runs
    model = build_model(args)
    options = stream_options(args, model)
    source = open_source(args.source, follow=args.follow, qos=args.qos, report=report)
    engine = StreamEngine(model, options, report=report, write_back=bool(args.write_back))
    stop, why = threading.Event(), ['stopped']
    sinks, error = [], None
    previous = None
    if threading.current_thread() is threading.main_thread():
        def on_sigterm(signum, frame) -> None:
            why[0] = 'SIGTERM'
            stop.set()
        previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        sinks.append(JsonLinesSink(args.out))
        if args.mqtt_out:
            sinks.append(MqttSink(args.mqtt_out, qos=args.qos, report=report))
        if args.write_back:
            sinks.append(WriteBackSink(args.write_back))
        engine.sinks = sinks
        summary = engine.run(source, stop, reason=lambda: why[0])
    except Exception as e:
        error = e
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        for sink in sinks:
            if isinstance(sink, WriteBackSink):
                sink.close(error)
            else:
                sink.close()
        if hasattr(model, 'close'):
            model.close()
    result = summary.as_dict()
    for sink in sinks:
        if isinstance(sink, MqttSink):
            result.update(published=sink.published, publish_dropped=sink.dropped)
    if args.summary_json:
        from posecls.utils.atomic_io import atomic_write_bytes
        atomic_write_bytes(args.summary_json, json.dumps(result, indent=2).encode())
    report(summary.line())
    return result


if __name__ == '__main__':
    main()
