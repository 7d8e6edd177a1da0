"""Classify sequences of a .npy file: one predicted class name per line (TAO's inference output)."""
import argparse
from typing import List, Optional

from posecls.apis.outputs import top1_labels, write_lines, write_ranked_scores
from posecls.tools.common import DictAction


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse ``tools/inference.py`` arguments."""
    parser = argparse.ArgumentParser(description='Run a posecls model on skeleton sequences')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint (posecls, TAO Lightning or original ST-GCN), or an exported '
                        'model: .onnx (onnxruntime / openvino), .xml (OpenVINO IR) or .engine/.plan (TensorRT)')
    parser.add_argument('data', help='.npy array (N, C, T, V, M)')
    parser.add_argument('--out', required=True, help='text file: one predicted class name per input sequence')
    parser.add_argument('--scores-out', help='also write TAO-Triton ranked logits: "idx, s0(i0)=label0, ..."')
    parser.add_argument('--batch-size', type=int, default=16)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--backend', help='runtime of an exported model: onnxruntime, openvino or tensorrt (default: '
                        'by suffix: .onnx onnxruntime, .xml openvino, .engine/.plan tensorrt)')
    parser.add_argument('--precision', help='precision of the runtime: f32, bf16 (openvino) or int8 (a model from '
                        'posecls-quantize); default: as the model file holds it')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. test_dataloader.dataset.pipeline.0.clip_len=64')
    parser.add_argument('--verbose', action='store_true',
                        help='full log (the config dump, hooks, per-iteration lines) and tracebacks of errors')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> List[str]:
    """Run inference; returns the predicted class names."""
    args = parse_args(argv)
    from posecls.apis.inference import inference_recognizer, init_model  # torch: after parsing (fast --help)
    from posecls.deploy.backends import backend_options
    options = backend_options(args.checkpoint, args.backend, args.precision)
    model = init_model(args.config, args.checkpoint, device=args.device, cfg_options=args.cfg_options, **options)
    logits = inference_recognizer(model, args.data, batch_size=args.batch_size, progress=not args.verbose)
    classes = model.dataset_meta.get('classes')
    names = top1_labels(logits, classes)
    write_lines(args.out, names)
    if args.scores_out:
        write_ranked_scores(args.scores_out, logits, classes)
    print(f'{len(names)} predictions written to {args.out}')
    return names


if __name__ == '__main__':
    main()
