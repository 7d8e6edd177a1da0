"""TAO tao_client for Pose_classification on tritonclient (.npy -> results.txt, .json -> results.json)."""
import argparse
from typing import List, Optional

from posecls.deploy.triton.triton_client import PoseClassificationClient


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse TAO ``tao_client`` options (Pose_classification mode)."""
    p = argparse.ArgumentParser(description='Triton client for pose classification (TAO tao_client options)')
    p.add_argument('image_filename', help='.npy (N, C, T, V, M) sequences or a deepstream-bodypose-3d .json')
    p.add_argument('--dataset_convert_config', help='dataset_convert YAML (required for .json input)')
    p.add_argument('-m', '--model-name', required=True, help='e.g. pose_classification_tao')
    p.add_argument('-x', '--model-version', default='', help='default: latest')
    p.add_argument('-b', '--batch-size', type=int, default=1)
    p.add_argument('--mode', default='Pose_classification', choices=['Pose_classification'])
    p.add_argument('-u', '--url', default='localhost:8000')
    p.add_argument('-i', '--protocol', default='HTTP', help='HTTP or gRPC (anything but grpc means HTTP)')
    p.add_argument('-a', '--async', dest='async_set', action='store_true', help='asynchronous requests')
    p.add_argument('--streaming', action='store_true', help='gRPC streaming')
    p.add_argument('--output_path', required=True, help='folder for results.txt / results.json')
    p.add_argument('-v', '--verbose', action='store_true')
    return p.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> str:
    """Run the client; returns the written results file."""
    args = parse_args(argv)
    low = args.image_filename.lower()
    if not low.endswith(('.npy', '.json')):
        raise SystemExit(f'{args.image_filename}: input must be a .npy array or a deepstream-bodypose-3d .json')
    if low.endswith('.json') and not args.dataset_convert_config:
        raise SystemExit('--dataset_convert_config is required for .json input')
    with PoseClassificationClient(args.url, args.model_name, args.model_version, args.protocol, args.batch_size,
                                  async_mode=args.async_set, streaming=args.streaming, verbose=args.verbose) as c:
        if low.endswith('.npy'):
            path = c.run_npy(args.image_filename, args.output_path)
        else:
            path = c.run_json(args.image_filename, args.dataset_convert_config, args.output_path)
    print(f'Results written to {path}', flush=True)
    return path
