"""DeepStream JSON recordings + a labels CSV -> dataset -> train -> evaluate -> ONNX/OpenVINO -> Triton -> report.

Resumable: a rerun of the same command continues where the last one stopped (docs/user_guide.md, "Pipeline").
The library is :mod:`posecls.apis.pipeline`.
"""
import argparse
from typing import Any, Dict, List, Optional

from posecls.tools.common import DictAction

STAGE_NAMES = ('convert', 'train', 'evaluate', 'export', 'triton', 'report')  # posecls.apis.pipeline.STAGES


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse ``tools/pipeline.py`` arguments."""
    p = argparse.ArgumentParser(
        description='One command from DeepStream body-pose recordings to a served model: labelled dataset_convert '
        'with a val split -> training -> evaluation -> ONNX (+ OpenVINO IR) export -> Triton model repository -> '
        'HTML report, every output under --results-dir. A rerun continues where the last run stopped.')
    p.add_argument('--data', nargs='+', required=True, help='deepstream-bodypose-3d --save-pose JSON file(s), '
                   'folder(s) of *.json, or glob patterns')
    p.add_argument('--labels', required=True, help='labels CSV: file,object_id,start_frame,end_frame,label (only '
                   'label is required; an empty cell or * matches anything; frames inclusive)')
    p.add_argument('--results-dir', required=True, help='folder of every stage\'s outputs')
    p.add_argument('--from', dest='from_stage', choices=STAGE_NAMES,
                   help='redo this stage and every stage after it (a redone training starts afresh)')
    p.add_argument('--until', choices=STAGE_NAMES, help='stop after this stage (a later rerun continues)')
    t = p.add_argument_group('training')
    t.add_argument('--config', default='configs/stgcn_nvidia_sample.py',
                   help='base config: a path or a shipped name (default configs/stgcn_nvidia_sample.py: a narrow '
                   'ST-GCN on the nvidia layout); the dataset\'s paths, classes, joints and channels are filled in')
    t.add_argument('--epochs', type=int, help='train_cfg.max_epochs')
    t.add_argument('--batch-size', type=int, help='train_dataloader.batch_size')
    t.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config entries last, e.g. model.backbone.base_channels=32 '
                   'optim_wrapper.optimizer.lr=0.05')
    d = p.add_argument_group('dataset_convert (TAO keys; defaults as TAO)')
    d.add_argument('--pose-type', choices=['3dbp', '25dbp', '2dbp'])
    d.add_argument('--num-joints', type=int)
    d.add_argument('--input-width', type=float, help='frame width (25dbp, 2dbp)')
    d.add_argument('--input-height', type=float, help='frame height (25dbp, 2dbp)')
    d.add_argument('--focal-length', type=float, help='focal length in pixels (3dbp)')
    d.add_argument('--sequence-length-max', type=int, help='T of the arrays (default 300)')
    d.add_argument('--sequence-length-min', type=int, help='shortest window kept (default 10)')
    d.add_argument('--sequence-length', type=int, help='window length (default 100)')
    d.add_argument('--sequence-overlap', type=float, help='window step = int(sequence_length * overlap)')
    d.add_argument('--split-gap', type=int, help='split a track where frame_num jumps by more than N frames')
    d.add_argument('--label-map', help='JSON {class: id} the labels must use (default: classes in order of use)')
    split = d.add_mutually_exclusive_group()
    split.add_argument('--val-ratio', type=float, help='fraction of each class (whole tracks) in the val split, which '
                       'is also the evaluation set (default 0.2)')
    split.add_argument('--val-files', nargs='+', help='input file names whose windows form the val split')
    d.add_argument('--seed', type=int, help='seed of the --val-ratio split (default 0)')
    x = p.add_argument_group('export, Triton and report')
    x.add_argument('--opset', type=int, default=12, help='ONNX opset (default 12, like TAO)')
    x.add_argument('--openvino', choices=('auto', 'on', 'off'), default='auto',
                   help='also write an OpenVINO IR: auto (when openvino is installed, default), on, off')
    x.add_argument('--triton-model-name', help='Triton model name (default pose_classification_tao)')
    x.add_argument('--max-batch-size', type=int, default=16, help='Triton max_batch_size (default 16)')
    x.add_argument('--report-samples', type=int, default=8, help='misclassified samples animated in the report')
    p.add_argument('--verbose', action='store_true',
                   help='full log (the config dump, hooks, per-iteration lines) and tracebacks of errors')
    return p.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    """Run the pipeline; returns its summary (``results_dir``, ``stages``, ``ran``, ``report``)."""
    args = parse_args(argv)
    from posecls.apis.pipeline import CONVERT_KEYS, Pipeline
    convert = {k: getattr(args, k) for k in CONVERT_KEYS}
    pipe = Pipeline(args.data, args.labels, args.results_dir, config=args.config, cfg_options=args.cfg_options,
                    epochs=args.epochs, batch_size=args.batch_size, convert_options=convert, opset=args.opset,
                    openvino=args.openvino, triton_model_name=args.triton_model_name,
                    max_batch_size=args.max_batch_size, report_samples=args.report_samples, verbose=args.verbose,
                    echo=lambda line: print(line, flush=True))
    return pipe.run(args.from_stage, args.until)


if __name__ == '__main__':
    main()
