"""TAO ``tao_client`` (mode Pose_classification) on tritonclient: .npy -> results.txt, .json -> results.json.

Behaviour of tao-toolkit-triton-apps (tao_reference.md §7.2-§7.3): sequences are sent in order in batches
of ``batch_size`` (the last batch is filled by wrapping to the start; the duplicates are ignored), the
output is requested through Triton's classification extension with ``class_count`` = the output size, and
every response string ``score:index:label`` becomes ``idx, score(index)=label, ...`` (descending logits).
Differences: results.txt is truncated (written atomically) on each run instead of appended to.
"""
import os.path as osp
import queue
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from posecls.utils.atomic_io import atomic_open

from posecls.datasets.deepstream import apply_actions, build_inference_inputs, load_pose_json, write_results_json

from .convert_config import load_convert_config


def parse_protocol(protocol: str) -> str:
    """TAO's rule: ``grpc`` (any case) is gRPC, anything else HTTP."""
    return 'grpc' if str(protocol).lower() == 'grpc' else 'http'


def client_module(protocol: str) -> Any:
    """``tritonclient.grpc`` or ``tritonclient.http`` (clear error when tritonclient is missing)."""
    try:
        if parse_protocol(protocol) == 'grpc':
            import tritonclient.grpc as mod
        else:
            import tritonclient.http as mod
    except ImportError as e:
        raise RuntimeError(f'the Triton client needs tritonclient[http,grpc] ({e}): pip install "posecls[triton]"') \
            from e
    return mod


def parse_model(client: Any, protocol: str, model_name: str, model_version: str = '') -> Dict[str, Any]:
    """Check the served model like TAO's ``parse_model`` and return its I/O description.

    Raises:
        ValueError: not exactly 1 input / 1 output, output not FP32, or input not (C, T, V, M) (+ batch).
    """
    if parse_protocol(protocol) == 'grpc':
        meta = client.get_model_metadata(model_name, model_version, as_json=True)
        config = client.get_model_config(model_name, model_version, as_json=True)['config']
    else:
        meta = client.get_model_metadata(model_name, model_version)
        config = client.get_model_config(model_name, model_version)
    inputs, outputs = meta['inputs'], meta['outputs']
    if len(inputs) != 1 or len(outputs) != 1:
        raise ValueError(f'model {model_name}: expecting 1 input and 1 output, got {len(inputs)} and {len(outputs)}')
    if outputs[0]['datatype'] != 'FP32':
        raise ValueError(f'model {model_name}: output {outputs[0]["name"]} must be FP32, got {outputs[0]["datatype"]}')
    max_batch = int(config.get('max_batch_size', 0) or 0)
    shape = [int(d) for d in inputs[0]['shape']]
    expected = 5 if max_batch > 0 else 4
    if len(shape) != expected:
        raise ValueError(f'model {model_name}: input {inputs[0]["name"]} must have {expected} dims '
                         f'((N,) C, T, V, M), got {shape}')
    out_dims = [int(d) for d in config['output'][0]['dims']]
    return dict(input_name=inputs[0]['name'], output_name=outputs[0]['name'], max_batch_size=max_batch,
                input_shape=shape[1:] if max_batch > 0 else shape, class_count=out_dims[0])


def batches(num: int, batch_size: int) -> List[List[int]]:
    """Sequence indices per request: in order, the last batch filled by wrapping to the start."""
    out, i = [], 0
    while i < num:
        out.append([(i + k) % num for k in range(batch_size)])
        i += batch_size
    return out


def parse_classification(row: Sequence[Any]) -> List[Tuple[float, int, str]]:
    """Triton classification strings ``score:index[:label]`` -> [(score, index, label)] (in order)."""
    out = []
    for item in row:
        text = item.decode() if isinstance(item, bytes) else str(item)
        parts = text.split(':', 2)
        out.append((float(parts[0]), int(parts[1]), parts[2] if len(parts) > 2 else parts[1]))
    return out


def format_result_line(index: int, ranked: List[Tuple[float, int, str]]) -> str:
    """TAO's results.txt line ``idx, s0(i0)=label0, s1(i1)=label1, ...``."""
    return ', '.join([str(index)] + [f'{s:.4f}({i})={lb}' for s, i, lb in ranked])


class PoseClassificationClient:
    """Send skeleton sequences to a Triton pose classification model.

    Args:
        url: ``host:port`` (HTTP 8000 / gRPC 8001 by default in Triton).
        model_name: Served model (``pose_classification_tao``).
        model_version: ``''`` = latest.
        protocol: ``http`` or ``grpc`` (TAO rule: anything but grpc is HTTP).
        batch_size: Sequences per request (<= the model's max batch).
        async_mode: Send all requests before collecting the results.
        streaming: gRPC bidirectional streaming.
        verbose: tritonclient verbose mode.
    """

    def __init__(self, url: str = 'localhost:8000', model_name: str = 'pose_classification_tao',
                 model_version: str = '', protocol: str = 'http', batch_size: int = 1, async_mode: bool = False,
                 streaming: bool = False, verbose: bool = False) -> None:
        self.protocol = parse_protocol(protocol)
        if streaming and self.protocol != 'grpc':
            raise ValueError('streaming is only supported with the gRPC protocol (-i grpc)')
        if batch_size < 1:
            raise ValueError(f'batch size must be >= 1, got {batch_size}')
        self.mod = client_module(self.protocol)
        self.client = self.mod.InferenceServerClient(url=url, verbose=verbose)
        self.model_name, self.model_version = model_name, model_version
        self.batch_size, self.async_mode, self.streaming = batch_size, async_mode, streaming
        self.model = parse_model(self.client, self.protocol, model_name, model_version)
        mb = self.model['max_batch_size']
        if mb == 0 and batch_size > 1 or mb > 0 and batch_size > mb:
            raise ValueError(f'batch size {batch_size} exceeds the max batch size {mb} of model {model_name}')

    def close(self) -> None:
        """Close the connection."""
        if self.streaming:
            self.client.stop_stream()
        self.client.close()

    def __enter__(self) -> 'PoseClassificationClient':
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _request(self, x: np.ndarray) -> Tuple[list, list]:
        inp = self.mod.InferInput(self.model['input_name'], list(x.shape), 'FP32')
        inp.set_data_from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        out = self.mod.InferRequestedOutput(self.model['output_name'], class_count=self.model['class_count'])
        return [inp], [out]

    def classify(self, data: np.ndarray) -> List[List[Tuple[float, int, str]]]:
        """Ranked (score, class index, label) of every sequence of ``data`` (N, C, T, V, M), in input order."""
        data = np.asarray(data)
        if data.ndim != 5 or list(data.shape[1:]) != self.model['input_shape']:
            raise ValueError(f'input must be (N, {", ".join(map(str, self.model["input_shape"]))}) for model '
                             f'{self.model_name}, got {tuple(data.shape)}')
        n = data.shape[0]
        plan = batches(n, self.batch_size) if self.model['max_batch_size'] > 0 else [[i] for i in range(n)]
        results: Dict[int, Any] = {}
        if self.streaming:
            done: 'queue.Queue' = queue.Queue()
            self.client.start_stream(callback=lambda result, error: done.put((result, error)))
            for rid, idx in enumerate(plan, 1):
                inputs, outputs = self._request(self._batch(data, idx))
                self.client.async_stream_infer(self.model_name, inputs, request_id=str(rid), outputs=outputs,
                                               model_version=self.model_version)
            for _ in plan:
                result, error = done.get(timeout=300)
                if error is not None:
                    raise RuntimeError(f'inference failed: {error}')
                results[int(result.get_response().id)] = result.as_numpy(self.model['output_name'])
        elif self.async_mode and self.protocol == 'grpc':
            done = queue.Queue()
            for rid, idx in enumerate(plan, 1):
                inputs, outputs = self._request(self._batch(data, idx))
                self.client.async_infer(self.model_name, inputs,
                                        callback=lambda result, error: done.put((result, error)),
                                        request_id=str(rid), outputs=outputs, model_version=self.model_version)
            for _ in plan:
                result, error = done.get(timeout=300)
                if error is not None:
                    raise RuntimeError(f'inference failed: {error}')
                results[int(result.get_response().id)] = result.as_numpy(self.model['output_name'])
        elif self.async_mode:
            pending = []
            for rid, idx in enumerate(plan, 1):
                inputs, outputs = self._request(self._batch(data, idx))
                pending.append((rid, self.client.async_infer(self.model_name, inputs, request_id=str(rid),
                                                             outputs=outputs, model_version=self.model_version)))
            for rid, req in pending:
                results[rid] = req.get_result().as_numpy(self.model['output_name'])
        else:
            for rid, idx in enumerate(plan, 1):
                inputs, outputs = self._request(self._batch(data, idx))
                res = self.client.infer(self.model_name, inputs, request_id=str(rid), outputs=outputs,
                                        model_version=self.model_version)
                results[rid] = res.as_numpy(self.model['output_name'])
        ranked: List[Optional[List[Tuple[float, int, str]]]] = [None] * n
        for rid, idx in enumerate(plan, 1):
            rows = results[rid].reshape(len(idx), -1) if self.model['max_batch_size'] > 0 else results[rid][None]
            for k, row in enumerate(rows):
                seq = (rid - 1) * self.batch_size + k
                if seq < n:  # wrap-around duplicates are ignored (TAO: current_idx >= N)
                    ranked[seq] = parse_classification(row)
        return ranked  # type: ignore[return-value]

    def _batch(self, data: np.ndarray, idx: List[int]) -> np.ndarray:
        x = np.asarray(data[idx], dtype=np.float32)
        return x if self.model['max_batch_size'] > 0 else x[0]

    def run_npy(self, npy_file: str, output_path: str) -> str:
        """Classify a (N, C, T, V, M) .npy; write ``<output_path>/results.txt`` (truncated); return its path."""
        if not osp.isfile(npy_file):
            raise FileNotFoundError(f'input not found: {npy_file}')
        data = np.load(npy_file, mmap_mode='r', allow_pickle=False)
        ranked = self.classify(data)
        path = osp.join(output_path, 'results.txt')
        with atomic_open(path, 'w') as f:
            for i, r in enumerate(ranked):
                f.write(format_result_line(i, r) + '\n')
        return path

    def run_json(self, json_file: str, convert_config: str, output_path: str) -> str:
        """Classify a deepstream-bodypose-3d JSON; write ``<output_path>/results.json`` with ``action`` per object."""
        inputs = build_inference_inputs(json_file, **load_convert_config(convert_config))
        labels = [r[0][2] for r in self.classify(inputs.sequences)] if len(inputs.sequences) else []
        pose_data, _ = load_pose_json(json_file)
        apply_actions(pose_data, inputs.segments, labels)
        path = osp.join(output_path, 'results.json')
        write_results_json(path, pose_data)
        return path
