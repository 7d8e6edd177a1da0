"""Triton Python-backend model: serves a posecls ONNX model (onnxruntime / OpenVINO), OpenVINO IR or TensorRT engine.

Copied as ``<repo>/<model>/<version>/model.py`` by ``write_triton_repository(platform='python')``.
Parameters in config.pbtxt: ``model_file`` (file name in the version folder), ``device`` and, when set,
``backend`` / ``precision`` (:func:`posecls.deploy.init_backend`'s, e.g. ``openvino`` / ``bf16``).
Tensors cross the backend boundary through DLPack (torch), not numpy: the python-backend stub in
nvidia-pytriton 0.7.0 was built against numpy 1 and returns empty outputs for numpy-2 arrays.

Under :class:`posecls.deploy.triton.serve.TritonServer` the model first takes the ``sys.path`` of the Python
that started the server (:func:`adopt_server_python`): the stub's interpreter runs isolated and sees only the
base installation, not a venv or ``PYTHONPATH``. Every request is checked for NaN/inf before the requests of
one ``execute`` call are batched: a request with a non-finite sample gets an INVALID_ARG error naming the
sample (its index within that request); the other requests run normally.
"""
import json
import os
import os.path as osp
import sys
from typing import Any, Dict, List, Mapping

#: Set by ``TritonServer`` (``posecls.deploy.triton.serve.STUB_PATH_ENV``; repeated here because this code runs
#: before posecls is importable).
STUB_PATH_ENV = 'POSECLS_TRITON_STUB_PYTHON'


def adopt_server_python(environ: Mapping[str, str] = os.environ) -> None:
    """Import from the environment of the Python that started tritonserver.

    Its site directories are added (their ``.pth`` files run, so editable installs work) and its ``sys.path``
    goes first, in its order; the stub's own entries (model folder, backend folder, the base installation's
    site-packages) follow. Without :data:`STUB_PATH_ENV` (e.g. in the official tritonserver) nothing changes.

    Args:
        environ: Where to read :data:`STUB_PATH_ENV` from.

    Raises:
        RuntimeError: the variable is not the JSON that TritonServer writes.
    """
    text = environ.get(STUB_PATH_ENV)
    if not text:
        return
    try:
        spec = json.loads(text)
        path, sites = list(spec['path']), list(spec['site'])
    except (ValueError, KeyError, TypeError) as e:
        raise RuntimeError(f'{STUB_PATH_ENV} must be JSON {{"path": [...], "site": [...]}}, got {text[:200]!r} '
                           f'({e})') from e
    import site
    own = set(sys.path)
    for sitedir in sites:
        if sitedir not in own and osp.isdir(sitedir):
            site.addsitedir(sitedir)
    first = [p for p in path if p]
    seen = set(first)
    sys.path[:] = first + [p for p in sys.path if p not in seen]


adopt_server_python()

import numpy as np  # noqa: E402  (imported after adopt_server_python, from the starting Python's environment)
import torch  # noqa: E402
import triton_python_backend_utils as pb_utils  # noqa: E402

from posecls.deploy.backends import init_backend  # noqa: E402
from posecls.utils.input_checks import NonFiniteInputError, check_finite  # noqa: E402


def _error(message: str, invalid_input: bool = False) -> Any:
    """An error response (INVALID_ARG for a refused input where the stub knows the code, else INTERNAL)."""
    code = getattr(pb_utils.TritonError, 'INVALID_ARG' if invalid_input else 'INTERNAL', None)
    error = pb_utils.TritonError(message) if code is None else pb_utils.TritonError(message, code)
    return pb_utils.InferenceResponse(output_tensors=[], error=error)


class TritonPythonModel:
    """Batch the finite requests of one execute() call into one backend call."""

    def initialize(self, args: Dict[str, str]) -> None:
        """Load the model file named by the ``model_file`` parameter of config.pbtxt."""
        config = json.loads(args['model_config'])
        params = {k: v['string_value'] for k, v in config.get('parameters', {}).items()}
        vdir = osp.join(args['model_repository'], args['model_version'])
        self.model_name = args.get('model_name', config.get('name', ''))
        self.backend = init_backend(osp.join(vdir, params['model_file']), device=params.get('device', 'cpu'),
                                    backend=params.get('backend') or None, precision=params.get('precision') or None)
        self.input_name = config['input'][0]['name']
        self.output_name = config['output'][0]['name']

    def _where(self, request: Any) -> str:
        """The request in messages: model, request id (when the client set one), input tensor."""
        rid = request.request_id() if hasattr(request, 'request_id') else ''
        return f'model {self.model_name!r}' + (f', request {rid!r}' if rid else '') + f', input {self.input_name!r}'

    def execute(self, requests: List[Any]) -> List[Any]:
        """One response per request, in order.

        A request whose input holds NaN/inf is answered with an error naming the sample (index within the
        request) and left out of the batch; an error of the backend fails the requests of that batch only.
        """
        responses: List[Any] = [None] * len(requests)
        good: List[int] = []
        arrays: List[np.ndarray] = []
        for i, request in enumerate(requests):
            x = torch.from_dlpack(pb_utils.get_input_tensor_by_name(request, self.input_name).to_dlpack()).numpy()
            try:
                check_finite(x, self._where(request))
            except NonFiniteInputError as e:
                responses[i] = _error(str(e), invalid_input=True)
                continue
            good.append(i)
            arrays.append(x)
        if not good:
            return responses
        try:
            logits = self.backend.infer(np.concatenate(arrays))
        except Exception as e:  # noqa: BLE001 - reported to the client per request
            for i in good:
                responses[i] = _error(f'{self._where(requests[i])}: {e}')
            return responses
        start = 0
        for i, x in zip(good, arrays):
            n = x.shape[0]
            out = torch.from_numpy(np.ascontiguousarray(logits[start:start + n], dtype=np.float32))
            responses[i] = pb_utils.InferenceResponse(
                output_tensors=[pb_utils.Tensor.from_dlpack(self.output_name, torch.utils.dlpack.to_dlpack(out))])
            start += n
        return responses
