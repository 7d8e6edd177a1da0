"""Triton Python-backend model: serves a posecls ONNX model (onnxruntime) or TensorRT engine.

Copied as ``<repo>/<model>/<version>/model.py`` by ``write_triton_repository(platform='python')``.
Parameters in config.pbtxt: ``model_file`` (file name in the version folder) and ``device``.
Tensors cross the backend boundary through DLPack (torch), not numpy: the python-backend stub in
nvidia-pytriton 0.7.0 was built against numpy 1 and returns empty outputs for numpy-2 arrays.
"""
import json
import os.path as osp

import numpy as np
import torch
import triton_python_backend_utils as pb_utils

from posecls.deploy.backends import init_backend


class TritonPythonModel:
    """Batch all requests of one execute() call into one backend call."""

    def initialize(self, args):
        config = json.loads(args['model_config'])
        params = {k: v['string_value'] for k, v in config.get('parameters', {}).items()}
        vdir = osp.join(args['model_repository'], args['model_version'])
        self.backend = init_backend(osp.join(vdir, params['model_file']), device=params.get('device', 'cpu'))
        self.input_name = config['input'][0]['name']
        self.output_name = config['output'][0]['name']

    def execute(self, requests):
        arrays = [torch.from_dlpack(pb_utils.get_input_tensor_by_name(r, self.input_name).to_dlpack()).numpy()
                  for r in requests]
        sizes = [a.shape[0] for a in arrays]
        try:
            logits = self.backend.infer(np.concatenate(arrays))
        except Exception as e:  # noqa: BLE001 - reported to the client per request
            return [pb_utils.InferenceResponse(output_tensors=[], error=pb_utils.TritonError(str(e)))
                    for _ in requests]
        responses, start = [], 0
        for n in sizes:
            out = torch.from_numpy(np.ascontiguousarray(logits[start:start + n], dtype=np.float32))
            responses.append(pb_utils.InferenceResponse(
                output_tensors=[pb_utils.Tensor.from_dlpack(self.output_name, torch.utils.dlpack.to_dlpack(out))]))
            start += n
        return responses
