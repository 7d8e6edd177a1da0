"""Serve an exported model with a local Triton server (the tritonserver binary of nvidia-pytriton)."""
import argparse
import os.path as osp
import signal
import tempfile
import time
from typing import List, Optional

from posecls.deploy.backends import TRT_SUFFIXES
from posecls.deploy.triton.serve import TritonServer
from posecls.deploy.triton.triton_repo import DEFAULT_MODEL_NAME, write_triton_repository


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse ``tools/deployment/serve.py`` arguments."""
    p = argparse.ArgumentParser(description='Serve a posecls .onnx (onnxruntime / OpenVINO), OpenVINO IR or TensorRT '
                                'engine over Triton HTTP/gRPC on this machine until Ctrl-C')
    p.add_argument('model_file', help='.onnx, OpenVINO .xml or .engine/.plan')
    p.add_argument('--model-name', default=DEFAULT_MODEL_NAME)
    p.add_argument('--labels', help='labels file (default: classes stored in the model)')
    p.add_argument('--max-batch-size', type=int, default=16)
    p.add_argument('--device', default='cpu', help='cpu or cuda (TensorRT engines run on cuda)')
    p.add_argument('--backend', help='runtime inside the python-platform model: onnxruntime, openvino or tensorrt '
                   '(default: by suffix: .onnx onnxruntime, .xml openvino, .engine/.plan tensorrt)')
    p.add_argument('--precision', help='its precision: f32, bf16 (openvino) or int8 (a model from posecls-quantize); '
                   'default: as the model file holds it')
    p.add_argument('--host', default='127.0.0.1',
                   help='IPv4 address the HTTP, gRPC and metrics endpoints bind to (default 127.0.0.1: this machine '
                   'only; 0.0.0.0 serves every interface, unauthenticated: anyone who reaches the machine can run '
                   'inference and read the model configuration and metrics)')
    p.add_argument('--http-port', type=int, default=8000)
    p.add_argument('--grpc-port', type=int, default=8001)
    p.add_argument('--metrics-port', type=int, default=8002)
    p.add_argument('--repo', help='where to write the repository (default: a temporary folder)')
    p.add_argument('--duration', type=float, help='stop after this many seconds (default: until Ctrl-C/SIGTERM)')
    p.add_argument('--verbose', action='store_true',
                   help='full log (the config dump, hooks, per-iteration lines) and tracebacks of errors')
    return p.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> None:
    """Write a python-platform repository, start tritonserver, wait, stop it."""
    args = parse_args(argv)
    classes = None
    if args.labels:
        from posecls.tools.triton_repo import read_labels
        classes = read_labels(args.labels)
    with tempfile.TemporaryDirectory(prefix='posecls_repo_') as tmp:
        repo = args.repo or tmp
        engine = args.backend == 'tensorrt' or args.model_file.lower().endswith(TRT_SUFFIXES)
        device = 'cuda' if args.device == 'cpu' and engine else args.device
        write_triton_repository(args.model_file, repo, model_name=args.model_name, platform='python', classes=classes,
                                max_batch_size=args.max_batch_size, device=device, force=args.repo is None or
                                osp.isdir(osp.join(repo, args.model_name)), backend=args.backend,
                                precision=args.precision)
        server = TritonServer(repo, http_port=args.http_port, grpc_port=args.grpc_port,
                              metrics_port=args.metrics_port, host=args.host)
        stop = {'flag': False}
        previous = signal.signal(signal.SIGTERM, lambda *a: stop.update(flag=True))
        try:
            with server:
                print(f'Serving {args.model_file} as {args.model_name}: HTTP {server.http_url}, gRPC '
                      f'{server.grpc_url}, metrics {server.metrics_url} (Ctrl-C to stop)', flush=True)
                t0 = time.monotonic()
                while not stop['flag'] and (args.duration is None or time.monotonic() - t0 < args.duration):
                    if server.process is None or server.process.poll() is not None:
                        raise RuntimeError(f'tritonserver stopped:\n{server.log_tail()}')
                    time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
        print('Triton server stopped', flush=True)
