"""INT8 post-training quantization of an exported model (NNCF), written only when it agrees with fp32.

    posecls-quantize CONFIG MODEL.onnx --out model_int8.xml [--num-samples 300] [--min-agreement 0.99]
        [--accuracy-control 0.995 [--control-samples 300]]

Implementation: :mod:`posecls.deploy.quantize`. Exit status 1 (and no file) when the top-1 agreement with
the fp32 model on the validation set is below ``--min-agreement``, or when ``--accuracy-control`` has to revert
every quantized layer to float to reach its target.
"""
import argparse
import json
from typing import Any, Dict, List, Optional

from posecls.tools.common import DictAction


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected a fraction in [0, 1] (0.99 = 99 %), got {text!r}') from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f'expected a fraction in [0, 1] (0.99 = 99 %), got {text}: an agreement '
                                         'above 1 can never be reached')
    return value


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse ``tools/deployment/quantize.py`` arguments."""
    p = argparse.ArgumentParser(
        description='Quantize an exported model to INT8 with NNCF, calibrated on training sequences through the '
        "config's test pipeline; report top-1 agreement with fp32 and accuracy on a validation set, and write the "
        'model only when the agreement reaches --min-agreement')
    p.add_argument('config', help="the model's config (test pipeline, data paths, classes)")
    p.add_argument('model', help='fp32 exported model: .onnx (posecls-export-onnx) or OpenVINO .xml')
    p.add_argument('--out', required=True, help='INT8 model: .xml (OpenVINO IR + .bin; run with --backend openvino '
                   '--precision int8) or .onnx (QDQ, for onnxruntime; needs an .onnx input)')
    p.add_argument('--calib-data', help='.npy to calibrate on (default: train_dataloader.dataset.data_path)')
    p.add_argument('--num-samples', type=int, default=300, help='calibration sequences drawn at random (default 300)')
    p.add_argument('--val-data', help='.npy of the agreement check (default: test_dataloader.dataset.data_path)')
    p.add_argument('--val-labels', help='its labels .pkl, for the accuracy (default: the same loader\'s label_path)')
    p.add_argument('--min-agreement', type=_fraction, default=0.99,
                   help='required top-1 agreement with fp32 on the validation set, a fraction (default 0.99)')
    p.add_argument('--preset', choices=('performance', 'mixed'), default='performance',
                   help='NNCF preset: performance (symmetric, default) or mixed (asymmetric activations)')
    p.add_argument('--quantize-input-stage', action='store_true',
                   help='also quantize the layers between the input and the first nonlinearity (by default they '
                   'stay in float: they see the raw joint coordinates, and keeping them costs no measurable time)')
    p.add_argument('--accuracy-control', type=_fraction, metavar='AGREEMENT',
                   help='accuracy control (NNCF quantize_with_accuracy_control): where the INT8 model agrees with '
                   'fp32 on less than AGREEMENT (a fraction, e.g. 0.995) of --control-samples held-out training '
                   'sequences, revert the layers that cost the most agreement to float until it does')
    p.add_argument('--control-samples', type=int, default=300,
                   help='training sequences of the accuracy-control split, drawn apart from the calibration ones '
                   '(default 300)')
    p.add_argument('--control-data', help='.npy to draw the accuracy-control split from (default: --calib-data, '
                   'apart from the calibration draw); needs no labels, e.g. recordings of the deployment cameras')
    p.add_argument('--seed', type=int, default=0, help='seed of the calibration draw')
    p.add_argument('--batch-size', type=int, default=16, help='sequences per call of the validation')
    p.add_argument('--force', action='store_true', help='replace an existing --out')
    p.add_argument('--report', help='also write the result as JSON here')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config entries')
    p.add_argument('--verbose', action='store_true', help='tracebacks of errors')
    return p.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    """Quantize; returns the result (``agreement``, accuracies, ``out_file``)."""
    args = parse_args(argv)
    from posecls.deploy.quantize import quantize_model
    from posecls.utils.atomic_io import atomic_open
    result = quantize_model(args.config, args.model, args.out, calib_data=args.calib_data,
                            num_samples=args.num_samples, val_data=args.val_data, val_labels=args.val_labels,
                            min_agreement=args.min_agreement, preset=args.preset, seed=args.seed,
                            batch_size=args.batch_size, force=args.force, cfg_options=args.cfg_options,
                            keep_input_stage=not args.quantize_input_stage,
                            accuracy_control=args.accuracy_control, control_samples=args.control_samples,
                            control_data=args.control_data)
    if args.report:
        with atomic_open(args.report, 'w') as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == '__main__':
    main()
