"""A served Triton model as a posecls backend, and TAO's ``tao_client`` (mode Pose_classification) on it.

:class:`TritonBackend` sends sequences to a running Triton server with tritonclient; like
any :class:`~posecls.deploy.Backend` it runs through :func:`posecls.apis.inference_recognizer`
(the one inference loop), so ``tools/deployment/triton_client.py``, ``tools/stream.py --server``
and evaluation use the same post-processing as every other backend
(:mod:`posecls.apis.outputs`: ranked lines, top-1 labels).

Behaviour of tao-toolkit-triton-apps (docs/reference.md §7.2-§7.3, docs/reference.md): sequences are sent in
order in batches of ``batch_size`` (the last batch is filled by wrapping to the start; the duplicates are
ignored), and each line of results.txt is ``idx, score(index)=label, ...`` (descending logits, all classes).
The labels are the server's (its ``labels.txt``, read once through Triton's classification extension).
Differences: results.txt is truncated (written atomically) on each run instead of appended to.
"""
import os.path as osp
import queue
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

from posecls.deploy.backends.base import Backend
from posecls.utils.input_checks import check_finite

from .convert_config import load_convert_config

#: seconds to wait for one response
RESPONSE_TIMEOUT_S = 300.0


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


class TritonBackend(Backend):
    """A model served by Triton (HTTP or gRPC), as a :class:`~posecls.deploy.Backend`.

    Args:
        url: ``host:port`` (Triton's HTTP 8000 / gRPC 8001 by default).
        model_name: Served model (``pose_classification_tao``).
        model_version: ``''`` = latest.
        protocol: ``http`` or ``grpc`` (TAO rule: anything but grpc is HTTP).
        batch_size: Sequences per request (<= the model's max batch).
        async_mode: Send all requests of a call before collecting the results.
        streaming: gRPC bidirectional streaming.
        verbose: tritonclient verbose mode.
        cfg: Config whose test pipeline ``inference_recognizer`` applies (None: raw sequences).

    Raises:
        ValueError: streaming over HTTP, a batch size the model does not take, or a served model that
            is not (N, C, T, V, M) -> (N, K) FP32.
        RuntimeError: tritonclient missing or a request that fails (its error is in the message).
    """

    name = 'triton'

    def __init__(self, url: str = 'localhost:8000', model_name: str = 'pose_classification_tao',
                 model_version: str = '', protocol: str = 'http', batch_size: int = 1, async_mode: bool = False,
                 streaming: bool = False, verbose: bool = False, cfg: Any = None) -> None:
        self.protocol = parse_protocol(protocol)
        if streaming and self.protocol != 'grpc':
            raise ValueError('streaming is only supported with the gRPC protocol (-i grpc)')
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f'batch size must be an int >= 1, got {batch_size!r}')
        self.mod = client_module(self.protocol)
        self.client = self.mod.InferenceServerClient(url=url, verbose=verbose)
        self.url, self.model_name, self.model_version = url, model_name, model_version
        self.batch_size, self.async_mode, self.streaming = batch_size, async_mode, streaming
        self.model = parse_model(self.client, self.protocol, model_name, model_version)
        mb = self.model['max_batch_size']
        if mb == 0 and batch_size > 1 or mb > 0 and batch_size > mb:
            raise ValueError(f'batch size {batch_size} exceeds the max batch size {mb} of model {model_name}')
        self._responses: 'queue.Queue' = queue.Queue()
        if streaming:
            self.client.start_stream(callback=lambda result, error: self._responses.put((result, error)))
        super().__init__(f'{self.protocol}://{url}/{model_name}', self.model['input_shape'],
                         classes=self._server_labels(), cfg=cfg, output_size=self.model['class_count'])

    def _server_labels(self) -> List[str]:
        """The server's class names, by index: one classification request (zeros) with class_count = K."""
        x = np.zeros((1, *self.model['input_shape']), np.float32)
        res = self._send([self._batch(x, [0])], classification=True)[0]
        ranked = parse_classification(np.asarray(res).reshape(-1))
        labels = {idx: label for _, idx, label in ranked}
        return [labels.get(i, str(i)) for i in range(self.model['class_count'])]

    def _batch(self, data: np.ndarray, idx: List[int]) -> np.ndarray:
        x = np.asarray(data[idx], dtype=np.float32)
        return x if self.model['max_batch_size'] > 0 else x[0]

    def _request(self, x: np.ndarray, classification: bool) -> Tuple[list, list]:
        inp = self.mod.InferInput(self.model['input_name'], list(x.shape), 'FP32')
        inp.set_data_from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        count = self.model['class_count'] if classification else 0
        out = self.mod.InferRequestedOutput(self.model['output_name'], class_count=count)
        return [inp], [out]

    def _send(self, arrays: List[np.ndarray], classification: bool = False) -> List[np.ndarray]:
        """Send one request per array (sync, async or streaming) and return the outputs in request order."""
        results: Dict[int, Any] = {}
        pending = []
        callbacks = 0
        for rid, x in enumerate(arrays, 1):
            inputs, outputs = self._request(x, classification)
            kw = dict(request_id=str(rid), outputs=outputs, model_version=self.model_version)
            if self.streaming:
                self.client.async_stream_infer(self.model_name, inputs, **kw)
                callbacks += 1
            elif self.async_mode and self.protocol == 'grpc':
                self.client.async_infer(self.model_name, inputs,
                                        callback=lambda result, error: self._responses.put((result, error)), **kw)
                callbacks += 1
            elif self.async_mode:
                pending.append((rid, self.client.async_infer(self.model_name, inputs, **kw)))
            else:
                results[rid] = self._checked(lambda: self.client.infer(self.model_name, inputs, **kw), rid)
        for rid, req in pending:
            results[rid] = self._checked(req.get_result, rid)
        for _ in range(callbacks):
            try:
                result, error = self._responses.get(timeout=RESPONSE_TIMEOUT_S)
            except queue.Empty:
                raise RuntimeError(f'{self.model_file}: no response within {RESPONSE_TIMEOUT_S:.0f} s') from None
            if error is not None:
                raise RuntimeError(f'{self.model_file}: inference failed: {error}')
            results[int(result.get_response().id)] = result
        return [results[rid].as_numpy(self.model['output_name']) for rid in range(1, len(arrays) + 1)]

    def _checked(self, call, rid: int) -> Any:
        try:
            return call()
        except Exception as e:  # noqa: BLE001 - tritonclient raises its own InferenceServerException
            raise RuntimeError(f'{self.model_file}: request {rid} failed: {e}') from e

    def _run(self, x: np.ndarray) -> np.ndarray:
        """Logits (N, K) of x: requests of ``batch_size`` in order, the last one filled by wrapping to the start."""
        n = x.shape[0]
        plan = batches(n, self.batch_size) if self.model['max_batch_size'] > 0 else [[i] for i in range(n)]
        outs = self._send([self._batch(x, idx) for idx in plan])
        logits = np.empty((n, self.model['class_count']), np.float32)
        for rid, (idx, out) in enumerate(zip(plan, outs)):
            rows = out.reshape(len(idx), -1)
            for k, row in enumerate(rows):
                seq = rid * self.batch_size + k
                if seq < n:  # wrap-around duplicates are ignored (TAO: current_idx >= N)
                    logits[seq] = row
        return logits

    def close(self) -> None:
        """Close the connection."""
        if self.streaming:
            self.client.stop_stream()
        self.client.close()

    def __enter__(self) -> 'TritonBackend':
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class PoseClassificationClient(TritonBackend):
    """TAO's ``tao_client`` for Pose_classification: ``.npy`` -> ``results.txt``, DeepStream JSON -> ``results.json``.

    Arguments as :class:`TritonBackend`.
    """

    def classify(self, data: np.ndarray) -> np.ndarray:
        """Logits (N, K) of every sequence of ``data`` (N, C, T, V, M), in input order (the inference loop)."""
        from posecls.apis.inference import RAW_PIPELINE, inference_recognizer
        data = np.asarray(data)
        if data.ndim != 5 or list(data.shape[1:]) != list(self.input_shape):
            raise ValueError(f'input must be (N, {", ".join(map(str, self.input_shape))}) for model '
                             f'{self.model_name}, got {tuple(data.shape)}')
        check_finite(data, f'input of {self.model_file}')
        if len(data) == 0:
            return np.zeros((0, self.num_classes), np.float32)
        return inference_recognizer(self, data, batch_size=self.batch_size * 64, pipeline=RAW_PIPELINE)

    def run_npy(self, npy_file: str, output_path: str) -> str:
        """Classify a (N, C, T, V, M) .npy; write ``<output_path>/results.txt`` (truncated); return its path."""
        from posecls.apis.outputs import write_ranked_scores
        if not osp.isfile(npy_file):
            raise FileNotFoundError(f'input not found: {npy_file}')
        logits = self.classify(np.load(npy_file, mmap_mode='r', allow_pickle=False))
        path = osp.join(output_path, 'results.txt')
        write_ranked_scores(path, logits, self.dataset_meta['classes'])
        return path

    def run_json(self, json_file: str, convert_config: str, output_path: str) -> str:
        """Classify a deepstream-bodypose-3d JSON; write ``<output_path>/results.json`` with ``action`` per object."""
        from posecls.apis.outputs import top1_labels
        from posecls.datasets.deepstream import (
            apply_actions,
            build_inference_inputs,
            load_pose_json,
            write_results_json,
        )
        inputs = build_inference_inputs(json_file, **load_convert_config(convert_config))
        labels = top1_labels(self.classify(inputs.sequences), self.dataset_meta['classes'])
        pose_data, _ = load_pose_json(json_file)
        apply_actions(pose_data, inputs.segments, labels)
        path = osp.join(output_path, 'results.json')
        write_results_json(path, pose_data)
        return path
