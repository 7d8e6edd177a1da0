"""Write a Triton model repository for a posecls/TAO pose classifier (tao-toolkit-triton-apps layout).

``<repo>/<model_name>/config.pbtxt``, ``labels.txt`` and ``1/model.onnx`` (platform onnxruntime_onnx),
``1/model.plan`` (tensorrt_plan) or ``1/model.py`` + the model file (backend python, used by
:mod:`posecls.deploy.triton.serve` because the tritonserver in nvidia-pytriton ships only the Python
backend). The config is built as Triton's own ``ModelConfig`` protobuf (from tritonclient) and written in
protobuf text format, so the official tritonserver reads it as is.
"""
import json
import os
import os.path as osp
import shutil
from typing import Any, Dict, List, Optional, Sequence

from posecls.utils.atomic_io import atomic_open

from ..backends import MODEL_SUFFIXES, ONNX_SUFFIXES, OPENVINO_SUFFIXES, TRT_SUFFIXES
from ..backends.base import INPUT_NAME, OUTPUT_NAME

DEFAULT_MODEL_NAME = 'pose_classification_tao'
PLATFORMS = ('onnxruntime_onnx', 'tensorrt_plan', 'python')
PYTHON_MODEL_SOURCE = osp.join(osp.dirname(osp.abspath(__file__)), 'python_model.py')


def _model_config_pb2() -> Any:
    try:
        from tritonclient.grpc import model_config_pb2
    except ImportError as e:
        raise RuntimeError(f'writing a Triton repository needs tritonclient ({e}): '
                           'pip install "posecls[triton]"') from e
    return model_config_pb2


def describe_model(model_file: str) -> Dict[str, Any]:
    """Input/output names, (C, T, V, M), class count, classes and batch-dynamism of an exported model.

    ``.onnx`` is read with onnx, an OpenVINO ``.xml`` with openvino; an engine is described by its
    ``<engine>.json`` from ``gen_trt_engine``.

    Raises:
        ValueError: unknown type, no settings JSON for an engine, or not (N, C, T, V, M) -> (N, K).
    """
    low = model_file.lower()
    if low.endswith(ONNX_SUFFIXES):
        import onnx

        from ..backends.onnxruntime_backend import CLASSES_METADATA_KEY
        proto = onnx.load(model_file, load_external_data=False)
        inits = {i.name for i in proto.graph.initializer}
        inputs = [i for i in proto.graph.input if i.name not in inits]
        if len(inputs) != 1 or len(proto.graph.output) != 1:
            raise ValueError(f'{model_file}: expected 1 input and 1 output')
        dims = lambda v: [d.dim_value if d.HasField('dim_value') else -1 for d in v.type.tensor_type.shape.dim]  # noqa
        ishape, oshape = dims(inputs[0]), dims(proto.graph.output[0])
        meta = {p.key: p.value for p in proto.metadata_props}
        classes = json.loads(meta[CLASSES_METADATA_KEY]) if CLASSES_METADATA_KEY in meta else None
        info = dict(input_name=inputs[0].name, output_name=proto.graph.output[0].name, input_shape=ishape[1:],
                    num_classes=oshape[1] if len(oshape) == 2 else -1, classes=classes, dynamic_batch=ishape[0] == -1,
                    max_batch=None)
    elif low.endswith(TRT_SUFFIXES):
        from ..gen_trt_engine import settings_path
        path = settings_path(model_file)
        if not osp.isfile(path):
            raise ValueError(f'{model_file}: no {path} (written by gen_trt_engine) to read the engine\'s shapes from')
        with open(path) as f:
            s = json.load(f)
        classes = s.get('classes')
        info = dict(input_name=s['input_name'], output_name=s['output_name'], input_shape=s['input_shape'],
                    num_classes=len(classes) if classes else -1, classes=classes, dynamic_batch=True,
                    max_batch=s['profile']['max'][0])
    elif low.endswith(OPENVINO_SUFFIXES):
        from ..backends.openvino_backend import OpenVINOBackend, model_classes, read_model
        model = read_model(model_file)
        if len(model.inputs) != 1 or len(model.outputs) != 1:
            raise ValueError(f'{model_file}: expected 1 input and 1 output')
        shape = model.input(0).get_partial_shape()
        dims = [d.get_length() if d.is_static else -1 for d in shape] if shape.rank.is_static else []
        k = OpenVINOBackend._output_size(model, dims[1:]) if len(dims) == 5 and min(dims[1:]) > 0 else None
        info = dict(input_name=model.input(0).get_any_name(), output_name=model.output(0).get_any_name(),
                    input_shape=dims[1:], num_classes=k or -1, classes=model_classes(model),
                    dynamic_batch=bool(dims) and dims[0] == -1, max_batch=None)
    else:
        raise ValueError(f'{model_file}: expected {MODEL_SUFFIXES}')
    if len(info['input_shape']) != 4 or min(info['input_shape']) < 1:
        raise ValueError(f'{model_file}: input must be (N, C, T, V, M) with static C, T, V, M, got '
                         f'{info["input_shape"]}')
    return info


def build_model_config(name: str, platform: str, input_shape: Sequence[int], num_classes: int,
                       max_batch_size: int = 16, input_name: str = INPUT_NAME, output_name: str = OUTPUT_NAME,
                       labels: bool = True, instance_kind: Optional[str] = None, instance_count: int = 1,
                       parameters: Optional[Dict[str, str]] = None) -> str:
    """config.pbtxt text (docs/reference.md §7.1): input FP32 dims [C,T,V,M], output FP32 dims [K] with labels.txt.

    Args:
        name: Model name.
        platform: ``onnxruntime_onnx``, ``tensorrt_plan`` or ``python`` (written as ``backend: "python"``).
        input_shape: (C, T, V, M).
        num_classes: K.
        max_batch_size: Triton's max batch (dynamic batching on).
        input_name / output_name: Tensor names.
        labels: Reference ``labels.txt`` from the output (Triton's classification extension).
        instance_kind: ``KIND_CPU`` / ``KIND_GPU`` instance group, or None for Triton's default.
        instance_count: Instances in that group.
        parameters: String parameters (python backend options).
    """
    pb = _model_config_pb2()
    if platform not in PLATFORMS:
        raise ValueError(f'platform must be one of {PLATFORMS}, got {platform!r}')
    cfg = pb.ModelConfig(name=name, max_batch_size=max_batch_size)
    if platform == 'python':
        cfg.backend = 'python'
    else:
        cfg.platform = platform
    inp = cfg.input.add()
    inp.name, inp.data_type = input_name, pb.TYPE_FP32
    inp.dims.extend(int(d) for d in input_shape)
    out = cfg.output.add()
    out.name, out.data_type = output_name, pb.TYPE_FP32
    out.dims.extend([int(num_classes)])
    if labels:
        out.label_filename = 'labels.txt'
    cfg.dynamic_batching.SetInParent()
    if instance_kind:
        group = cfg.instance_group.add()
        group.kind = pb.ModelInstanceGroup.Kind.Value(instance_kind)
        group.count = instance_count
    for k, v in (parameters or {}).items():
        cfg.parameters[k].string_value = str(v)
    from google.protobuf import text_format
    return text_format.MessageToString(cfg)


def write_triton_repository(model_file: str, repo_dir: str, *, model_name: str = DEFAULT_MODEL_NAME,
                            platform: Optional[str] = None, classes: Optional[Sequence[str]] = None,
                            max_batch_size: int = 16, version: int = 1, instance_kind: Optional[str] = None,
                            instance_count: int = 1, device: str = 'cpu', force: bool = False,
                            backend: Optional[str] = None, precision: Optional[str] = None) -> Dict[str, Any]:
    """Write ``<repo_dir>/<model_name>/`` for ``model_file``.

    Args:
        model_file: ``.onnx``, OpenVINO ``.xml`` (with its ``.bin``; python platform) or TensorRT engine
            (with its ``.json``).
        repo_dir: Model repository root (created).
        model_name: Triton model name (TAO: ``pose_classification_tao``).
        platform: Default by suffix: ``onnxruntime_onnx`` / ``tensorrt_plan``; ``python`` serves
            the file through posecls's Python-backend model (onnxruntime or TensorRT inside).
        classes: Labels (default: from the model's metadata / engine JSON).
        max_batch_size: Triton max batch (TAO: 16); must not exceed an engine's profile max.
        version: Version folder.
        instance_kind: Optional ``KIND_CPU`` / ``KIND_GPU`` instance group.
        instance_count: Instances of that group.
        device: Device of the python-backend model (``cpu``, ``cuda``).
        force: Replace an existing ``<repo_dir>/<model_name>`` folder.
        backend: Runtime of the python-backend model (``onnxruntime``, ``openvino``, ``tensorrt``;
            default: by suffix), written as a config.pbtxt parameter.
        precision: Its precision (``f32``, ``bf16``, ``int8``; default: the model file's).

    Returns:
        dict with ``model_dir``, ``config`` (text), ``platform``, ``files`` written.

    Raises:
        FileExistsError: the model folder exists and not ``force``.
        ValueError: missing classes, a static-batch ONNX, max_batch_size above the engine profile, or
            backend / precision that do not fit the model (or a platform other than python).
    """
    if not osp.isfile(model_file):
        raise FileNotFoundError(f'model file not found: {model_file}')
    info = describe_model(model_file)
    low = model_file.lower()
    is_onnx = low.endswith(ONNX_SUFFIXES)
    is_ir = low.endswith(OPENVINO_SUFFIXES)
    platform = platform or ('python' if is_ir or backend or precision else
                            'onnxruntime_onnx' if is_onnx else 'tensorrt_plan')
    if (platform == 'onnxruntime_onnx' and not is_onnx or platform == 'tensorrt_plan' and not
            low.endswith(TRT_SUFFIXES)):
        raise ValueError(f'platform {platform} does not run {model_file}')
    if (backend or precision) and platform != 'python':
        raise ValueError(f'backend/precision choose the runtime of the python platform (posecls\'s model.py); '
                         f'platform {platform} runs its own')
    from ..backends import resolve_backend
    resolve_backend(model_file, backend, precision)
    classes = list(classes) if classes is not None else info['classes']
    if not classes:
        raise ValueError(f'{model_file} carries no class names; pass classes (--labels / --config)')
    if info['num_classes'] > 0 and len(classes) != info['num_classes']:
        raise ValueError(f'{len(classes)} class names for a model with {info["num_classes"]} outputs')
    if not isinstance(max_batch_size, int) or max_batch_size < 1:
        raise ValueError(f'max_batch_size must be a positive int, got {max_batch_size!r}')
    if not info['dynamic_batch']:
        raise ValueError(f'{model_file} has a fixed batch axis; export it with a dynamic batch (--batch-dynamic) '
                         'for Triton batching')
    if info['max_batch'] is not None and max_batch_size > info['max_batch']:
        raise ValueError(f'max_batch_size {max_batch_size} exceeds the engine profile max batch {info["max_batch"]}')
    model_dir = osp.join(repo_dir, model_name)
    if osp.exists(model_dir):
        if not force:
            raise FileExistsError(f'{model_dir} exists; pass force=True (--force) to replace it')
        shutil.rmtree(model_dir)
    vdir = osp.join(model_dir, str(version))
    os.makedirs(vdir, exist_ok=True)
    files: List[str] = []
    params = None
    if platform == 'python':
        target = osp.join(vdir, 'model' + osp.splitext(model_file)[1].lower())
        params = dict(model_file=osp.basename(target), device=device)
        params.update({k: v for k, v in (('backend', backend), ('precision', precision)) if v})
        shutil.copyfile(PYTHON_MODEL_SOURCE, osp.join(vdir, 'model.py'))
        files.append(osp.join(vdir, 'model.py'))
    else:
        target = osp.join(vdir, 'model.onnx' if is_onnx else 'model.plan')
    shutil.copyfile(model_file, target)
    files.append(target)
    if is_ir:  # the IR's weights, beside the .xml under the same name
        shutil.copyfile(osp.splitext(model_file)[0] + '.bin', osp.splitext(target)[0] + '.bin')
        files.append(osp.splitext(target)[0] + '.bin')
    text = build_model_config(model_name, platform, info['input_shape'], len(classes), max_batch_size,
                              info['input_name'], info['output_name'], instance_kind=instance_kind,
                              instance_count=instance_count, parameters=params)
    with atomic_open(osp.join(model_dir, 'config.pbtxt'), 'w') as f:
        f.write(text)
    with atomic_open(osp.join(model_dir, 'labels.txt'), 'w') as f:
        f.write('\n'.join(classes))  # TAO's labels.txt has no trailing newline
    files += [osp.join(model_dir, 'config.pbtxt'), osp.join(model_dir, 'labels.txt')]
    return dict(model_dir=model_dir, config=text, platform=platform, files=files, classes=classes)
