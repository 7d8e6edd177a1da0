"""Build a serialized TensorRT engine from an exported ONNX model with the TensorRT Python API."""
import hashlib
import json
import os.path as osp
import time
from typing import Any, Dict, Optional

from posecls.utils.atomic_io import atomic_open, atomic_write_bytes

from .backends.onnxruntime_backend import CLASSES_METADATA_KEY
from .tensorrt_utils import import_tensorrt, trt_major_version

#: TAO's trtexec / tao-converter profile (docs/reference.md §6.7)
DEFAULT_BATCH_PROFILE = (1, 4, 16)
DEFAULT_WORKSPACE_MIB = 1024


def settings_path(engine_file: str) -> str:
    """Path of the JSON that records how ``engine_file`` was built (``<engine_file>.json``)."""
    return engine_file + '.json'


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def _onnx_classes(onnx_file: str) -> Optional[list]:
    import onnx  # here, not at import: `posecls-gen-trt-engine --help` stays fast
    model = onnx.load(onnx_file, load_external_data=False)
    for prop in model.metadata_props:
        if prop.key == CLASSES_METADATA_KEY:
            return json.loads(prop.value)
    return None


def _check_profile(min_batch: int, opt_batch: int, max_batch: int) -> None:
    for name, v in (('min_batch', min_batch), ('opt_batch', opt_batch), ('max_batch', max_batch)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f'{name} must be a positive int, got {v!r}')
    if not min_batch <= opt_batch <= max_batch:
        raise ValueError(f'batch profile must satisfy min <= opt <= max, got {min_batch}/{opt_batch}/{max_batch}')


def build_trt_engine(onnx_file: str, engine_file: str, *, fp16: bool = True, min_batch: int = DEFAULT_BATCH_PROFILE[0],
                     opt_batch: int = DEFAULT_BATCH_PROFILE[1], max_batch: int = DEFAULT_BATCH_PROFILE[2],
                     workspace_mib: int = DEFAULT_WORKSPACE_MIB, timing_cache: Optional[str] = None,
                     force: bool = False) -> Dict[str, Any]:
    """Build a TensorRT engine for a posecls/TAO ONNX model (only the batch axis dynamic).

    Equivalent to TAO's ``trtexec --onnx=... --minShapes=input:1x3x300x34x1
    --optShapes=input:4x... --maxShapes=input:16x... --fp16 --saveEngine=...``,
    done with the TensorRT builder API. INT8 is not offered (TAO does not
    support it for this model). fp32 builds disable TF32 so "fp32" is exact
    single precision.

    Args:
        onnx_file: Exported model (input (N, C, T, V, M) with static C/T/V/M).
        engine_file: Output serialized engine (``.engine`` / ``.plan``).
        fp16: Allow fp16 kernels (I/O stay float32).
        min_batch: Smallest batch of the optimisation profile.
        opt_batch: Batch TensorRT tunes for.
        max_batch: Largest batch the engine accepts.
        workspace_mib: Builder workspace memory pool limit in MiB.
        timing_cache: Optional timing-cache file: read if it exists (speeds up
            rebuilds), written back after the build.
        force: Overwrite an existing ``engine_file``.

    Returns:
        The settings dict, also written to ``<engine_file>.json``: precision,
        profile shapes, workspace, TensorRT version, device, ONNX sha256,
        classes, build time in seconds, paths.

    Raises:
        FileNotFoundError: ``onnx_file`` missing.
        FileExistsError: ``engine_file`` exists and not ``force``.
        ValueError: bad profile / workspace, ONNX not parseable by TensorRT
            (parser errors listed), wrong input rank.
        RuntimeError: TensorRT or a GPU is not available, or the build failed.
    """
    if not osp.isfile(onnx_file):
        raise FileNotFoundError(f'ONNX file not found: {onnx_file}')
    if osp.exists(engine_file) and not force:
        raise FileExistsError(f'{engine_file} exists; pass force=True (--force) to overwrite it')
    _check_profile(min_batch, opt_batch, max_batch)
    if isinstance(workspace_mib, bool) or not isinstance(workspace_mib, int) or workspace_mib < 1:
        raise ValueError(f'workspace_mib must be a positive int, got {workspace_mib!r}')
    trt = import_tensorrt()
    logger = trt.Logger(trt.Logger.WARNING)
    try:
        builder = trt.Builder(logger)
    except Exception as e:  # TensorRT raises plain RuntimeError/TypeError without a GPU
        builder, err = None, e
    else:
        err = None
    if builder is None:
        raise RuntimeError(f'TensorRT could not create a builder (no usable CUDA GPU?): {err}')
    flags = 0 if trt_major_version(trt) >= 10 else 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(osp.abspath(onnx_file)):
        errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        raise ValueError(f'TensorRT cannot parse {onnx_file}: ' + '; '.join(errors))
    if network.num_inputs != 1 or network.num_outputs != 1:
        raise ValueError(f'{onnx_file}: expected 1 input and 1 output, got {network.num_inputs} and '
                         f'{network.num_outputs}')
    inp, out = network.get_input(0), network.get_output(0)
    shape = tuple(inp.shape)
    if len(shape) != 5 or any(d < 0 for d in shape[1:]):
        raise ValueError(f'{onnx_file}: input {inp.name!r} must be (N, C, T, V, M) with static C, T, V, M, got {shape}')
    rest = shape[1:]
    profile = builder.create_optimization_profile()
    shapes = dict(min=(min_batch, ) + rest, opt=(opt_batch, ) + rest, max=(max_batch, ) + rest)
    profile.set_shape(inp.name, shapes['min'], shapes['opt'], shapes['max'])
    config = builder.create_builder_config()
    config.add_optimization_profile(profile)
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_mib << 20)
    if fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    else:
        config.clear_flag(trt.BuilderFlag.TF32)
    cache_bytes = b''
    if timing_cache and osp.isfile(timing_cache):
        with open(timing_cache, 'rb') as f:
            cache_bytes = f.read()
    cache = config.create_timing_cache(cache_bytes)
    config.set_timing_cache(cache, ignore_mismatch=False)
    t0 = time.perf_counter()
    serialized = builder.build_serialized_network(network, config)
    build_s = time.perf_counter() - t0
    if serialized is None:
        raise RuntimeError(f'TensorRT failed to build an engine from {onnx_file} (see the TensorRT log above)')
    engine_bytes = bytes(serialized)
    atomic_write_bytes(engine_file, engine_bytes)
    if timing_cache:
        atomic_write_bytes(timing_cache, bytes(config.get_timing_cache().serialize()))
    device = None
    try:
        import torch
        if torch.cuda.is_available():
            device = torch.cuda.get_device_name()
    except Exception:  # noqa: BLE001 - the device name is informative only
        device = None
    settings = dict(
        engine_file=osp.abspath(engine_file), onnx_file=osp.abspath(onnx_file), onnx_sha256=_sha256(onnx_file),
        precision='fp16' if fp16 else 'fp32', tf32='disabled' if not fp16 else 'allowed', input_name=inp.name,
        output_name=out.name, input_shape=list(rest), profile={k: list(v) for k, v in shapes.items()},
        workspace_mib=workspace_mib, timing_cache=osp.abspath(timing_cache) if timing_cache else None,
        tensorrt_version=trt.__version__, device=device, build_seconds=round(build_s, 3),
        engine_bytes=len(engine_bytes), classes=_onnx_classes(onnx_file),
        created=time.strftime('%Y-%m-%dT%H:%M:%S%z'))
    with atomic_open(settings_path(engine_file), 'w') as f:
        json.dump(settings, f, indent=2)
    return settings


def verify_engine(engine_file: str, reference: Any = None, data: Any = None, atol: Optional[float] = None,
                  device: str = 'cuda') -> Dict[str, Any]:
    """Check a built engine against a reference model and record the result in ``<engine>.json``.

    Args:
        engine_file: Engine from :func:`build_trt_engine`.
        reference: The model to compare with: a recognizer (``init_recognizer``) or a
            backend; default ONNX Runtime on the ONNX file the engine was built from.
        data: Real sequences (N, C, T, V, M) (array or ``.npy`` path; first 16 used).
        atol: Tolerance (default :data:`FP16_ATOL` for fp16 engines, :data:`FP32_ATOL` for fp32).
        device: GPU of the engine.

    Returns:
        :func:`posecls.deploy.verify.check_parity`'s report.

    Raises:
        ValueError: the engine differs from the reference by more than ``atol`` (the settings
            JSON records the failed check too).
    """
    import numpy as np

    from .backends import init_backend
    from .verify import FP16_ATOL, FP32_ATOL, check_parity
    with open(settings_path(engine_file)) as f:
        settings = json.load(f)
    if reference is None:
        reference = init_backend(settings['onnx_file'], device='cpu')
    if isinstance(data, str):
        data = np.load(data, mmap_mode='r', allow_pickle=False)
    if data is not None:
        data = np.asarray(data[:16], dtype=np.float32)
    if atol is None:
        atol = FP16_ATOL if settings['precision'] == 'fp16' else FP32_ATOL
    parity = check_parity(reference, init_backend(engine_file, device=device), data, atol=atol)
    settings['parity'] = parity
    with atomic_open(settings_path(engine_file), 'w') as f:
        json.dump(settings, f, indent=2)
    if not parity['passed']:
        raise ValueError(f'TensorRT engine {engine_file} differs from the reference by more than atol={atol}: '
                         f"max abs diff {parity['max_abs_diff']}")
    return parity
