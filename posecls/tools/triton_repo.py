"""Write a Triton model repository (``pose_classification_tao/``) for an exported model."""
import argparse
from typing import Any, Dict, List, Optional

from posecls.deploy.triton.triton_repo import DEFAULT_MODEL_NAME, PLATFORMS, write_triton_repository


def read_labels(path: str) -> List[str]:
    """Class names, one per line (blank lines ignored)."""
    with open(path) as f:
        labels = [ln.strip() for ln in f if ln.strip()]
    if not labels:
        raise ValueError(f'labels file {path} is empty')
    return labels


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse ``tools/deployment/triton_repo.py`` arguments."""
    p = argparse.ArgumentParser(description='Write a Triton model repository for a posecls/TAO ONNX model or '
                                'TensorRT engine (TAO tao-toolkit-triton-apps layout)')
    p.add_argument('model_file', help='.onnx, OpenVINO .xml (python platform), or .engine/.plan with its .json from '
                   'gen_trt_engine')
    p.add_argument('--repo', required=True, help='model repository root (tritonserver --model-repository)')
    p.add_argument('--model-name', default=DEFAULT_MODEL_NAME)
    p.add_argument('--platform', choices=PLATFORMS, help='default: onnxruntime_onnx for .onnx, tensorrt_plan for '
                   'engines, python for .xml or with --backend/--precision; python = posecls Python-backend model '
                   '(what serve.py runs)')
    p.add_argument('--labels', help='labels file, one class per line (default: the model\'s stored classes)')
    p.add_argument('--config', help='take the class names from this config\'s label_map')
    p.add_argument('--max-batch-size', type=int, default=16)
    p.add_argument('--version', type=int, default=1)
    p.add_argument('--instance-kind', choices=['KIND_CPU', 'KIND_GPU'])
    p.add_argument('--instance-count', type=int, default=1)
    p.add_argument('--device', default='cpu', help='device of the python-platform model')
    p.add_argument('--backend', help='runtime inside the python-platform model: onnxruntime, openvino or tensorrt '
                   '(default: by suffix: .onnx onnxruntime, .xml openvino, .engine/.plan tensorrt)')
    p.add_argument('--precision', help='its precision: f32, bf16 (openvino) or int8 (a model from posecls-quantize); '
                   'default: as the model file holds it')
    p.add_argument('--force', action='store_true', help='replace an existing model folder')
    p.add_argument('--verbose', action='store_true',
                   help='full log (the config dump, hooks, per-iteration lines) and tracebacks of errors')
    return p.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    """Write the repository; prints and returns what was written."""
    args = parse_args(argv)
    classes = None
    if args.labels:
        classes = read_labels(args.labels)
    elif args.config:
        from mmengine.config import Config

        from posecls.apis.inference import classes_from_config
        classes = classes_from_config(Config.fromfile(args.config))
    res = write_triton_repository(args.model_file, args.repo, model_name=args.model_name, platform=args.platform,
                                  classes=classes, max_batch_size=args.max_batch_size, version=args.version,
                                  instance_kind=args.instance_kind, instance_count=args.instance_count,
                                  device=args.device, force=args.force, backend=args.backend,
                                  precision=args.precision)
    print(f"Triton model repository written: {res['model_dir']} ({res['platform']})\n{res['config']}", flush=True)
    return res
