"""The TAO PoseClassificationNet experiment spec: every key, its default and where it goes.

Defaults are TAO's (>= 6: tao-core ``config/pose_classification/default_config.py`` +
``common_config.py``; docs/reference.md §6.1, §5.3). Keys marked ``tao=False`` are
posecls extensions. ``maps_to`` names the mmengine config entry a key becomes
(see ``posecls/tao/to_config.py`` and docs/tao_cli.md).
"""
from typing import Dict, List

from posecls.tao.fields import Field, Section

TAO_LAYOUTS = 'nvidia, openpose, human3.6m, ntu-rgb+d, ntu_edge, coco'


def registered_layouts() -> List[str]:
    """Skeleton layouts in posecls's GRAPHS registry (TAO's six plus user-registered ones)."""
    import posecls.graphs  # noqa: F401 - registers the built-in layouts
    from posecls.registry import GRAPHS
    return sorted(GRAPHS.module_dict)


def registered_strategies() -> List[str]:
    """Partition strategies in posecls's PARTITIONS registry."""
    import posecls.graphs  # noqa: F401
    from posecls.registry import PARTITIONS
    return sorted(PARTITIONS.module_dict)


#: TAO-style names of posecls's backbones (model.model_type); any other registered backbone is named by its class
MODEL_TYPES = {'ST-GCN': 'STGCN', 'ST-GCN++': 'STGCNPP', 'CTR-GCN': 'CTRGCN', 'ProtoGCN': 'ProtoGCN'}


def backbone_class(model_type: str):
    """The registered backbone class of a ``model.model_type`` (a TAO-style name or a class name)."""
    import posecls.models  # noqa: F401 - registers the backbones
    from posecls.registry import MODELS
    return MODELS.get(MODEL_TYPES.get(model_type, model_type))


def model_types() -> List[str]:
    """``model.model_type`` values: the TAO-style names of available backbones, then every registered backbone."""
    import inspect

    import posecls.models  # noqa: F401
    from posecls.models.backbones.base import GCNBackbone
    from posecls.registry import MODELS
    names = [t for t, cls in MODEL_TYPES.items() if MODELS.get(cls) is not None]
    for name, cls in sorted(MODELS.module_dict.items()):
        params = inspect.signature(cls.__init__).parameters if inspect.isclass(cls) else {}
        if name not in MODEL_TYPES.values() and (issubclass(cls, GCNBackbone) or
                                                 {'in_channels', 'graph_cfg'} <= set(params)):
            names.append(name)
    return names


def _dataset_paths(doc: str, prefix: str, label_doc: str = 'label .pkl [[names], [ids]]') -> Section:
    return Section(doc, {
        'data_path': Field('str', None, 'skeleton array .npy (N, C, T, V, M)', nullable=True,
                           maps_to=f'{prefix}.dataset.data_path'),
        'label_path': Field('str', None, label_doc, nullable=True, maps_to=f'{prefix}.dataset.label_path'),
    })


def _device_fields(task: str) -> Dict[str, Field]:
    return {
        'num_gpus': Field('int', 1, 'number of GPUs (single-device task: the first one is used)', low=1),
        'gpu_ids': Field('int_list', [0], 'GPU indices', low=0),
        'num_nodes': Field('int', 1, 'number of nodes (single-node task: must be 1)', low=1, high=1),
        'gpu_id': Field('int', None, f'TAO 5 spelling: the GPU of the {task} (overrides gpu_ids)', low=0,
                        nullable=True),
    }


MODEL = Section('network (ST-GCN)', {
    'model_type': Field('str', 'ST-GCN', 'architecture (TAO: ST-GCN only)', choices=model_types, known=MODEL_TYPES,
                        choices_doc='ST-GCN, ST-GCN++, CTR-GCN, ProtoGCN (or a registered backbone class)',
                        maps_to='model.backbone.type (STGCN, STGCNPP, CTRGCN, ProtoGCN, ...)'),
    'pretrained_model_path': Field(
        'str', None, 'initial weights (posecls, TAO Lightning or original ST-GCN .pth); the classifier is '
        're-initialised when its class count differs', nullable=True, maps_to='load_from (resume=False)'),
    'input_channels': Field('int', 3, 'channels C of the input (x, y, z / score)', low=1,
                            maps_to='model.backbone.in_channels, *_dataloader.dataset.num_channels'),
    'dropout': Field('float', 0.5, 'dropout of ST-GCN blocks 1-9 (ST-GCN only; the others: backbone_options)',
                     low=0.0, high=1.0, high_open=True, maps_to='model.backbone.dropout'),
    'graph_layout': Field('str', 'nvidia', 'skeleton layout', choices=registered_layouts, known=TAO_LAYOUTS.split(', '),
                          choices_doc=TAO_LAYOUTS + ' (or a registered layout)',
                          maps_to='model.backbone.graph_cfg.layout, *_dataloader.dataset.num_joints'),
    'graph_strategy': Field('str', 'spatial', 'adjacency partition strategy', choices=registered_strategies,
                            choices_doc='uniform, distance, spatial', known=('uniform', 'distance', 'spatial'),
                            maps_to='model.backbone.graph_cfg.strategy'),
    'edge_importance_weighting': Field('bool', True, 'learn an edge-importance mask per block (ST-GCN only)',
                                       maps_to='model.backbone.edge_importance_weighting'),
    'base_channels': Field('int', 64, 'width of the first stage (64 -> 128 -> 256 in TAO); smaller for quick runs',
                           low=1, tao=False, maps_to='model.backbone.base_channels, model.cls_head.in_channels'),
    'backbone_options': Field('mapping', {}, "the backbone's own options, e.g. {gcn_adaptive: importance} for "
                              'ST-GCN++ (table in docs/tao_cli.md); checked against the backbone before any work',
                              tao=False, maps_to='model.backbone.<option>'),
})

DATASET = Section('data (TAO skeleton arrays)', {
    'train_dataset': _dataset_paths('training set', 'train_dataloader'),
    'val_dataset': _dataset_paths('validation set (validation is skipped when unset)', 'val_dataloader'),
    'num_classes': Field('int', 6, 'number of classes', low=1,
                         maps_to='model.cls_head.num_classes, *_dataloader.dataset.num_classes'),
    'label_map': Field('label_map', None, 'class name -> id (required by train, evaluate, inference)',
                       nullable=True, maps_to='*_dataloader.dataset.label_map'),
    'random_choose': Field('bool', False, 'random temporal crop/pad to window_size (training)',
                           maps_to='train_pipeline: RandomChoose(window_size)'),
    'random_move': Field('bool', False, 'random rotation/scale/translation over time (training)',
                         maps_to='train_pipeline: RandomMove()'),
    'window_size': Field('int', -1, 'frames per training sample; -1 keeps the array length', low=-1, not_zero=True,
                         maps_to='train_pipeline: RandomChoose / AutoPad(window_size)'),
    'batch_size': Field('int', 16, 'batch size of training, validation, evaluation and inference', low=1,
                        maps_to='*_dataloader.batch_size'),
    'num_workers': Field('int', 1, 'data loading processes (0: in the main process; posecls allows 0)', low=0,
                         maps_to='*_dataloader.num_workers'),
})

OPTIM = Section('optimiser and learning-rate schedule', {
    'optimizer_type': Field('str', 'torch.optim.SGD', 'optimiser (TAO lists Adam/Adamax but always builds SGD; '
                            'posecls builds the one named)',
                            choices=['torch.optim.SGD', 'torch.optim.Adam', 'torch.optim.Adamax'],
                            maps_to='optim_wrapper.optimizer.type'),
    'lr': Field('float', 0.1, 'initial learning rate', low=0.0, low_open=True, maps_to='optim_wrapper.optimizer.lr'),
    'momentum': Field('float', 0.9, 'SGD momentum', low=0.0, maps_to='optim_wrapper.optimizer.momentum'),
    'nesterov': Field('bool', True, 'SGD Nesterov momentum', maps_to='optim_wrapper.optimizer.nesterov'),
    'weight_decay': Field('float', 1e-4, 'weight decay', low=0.0, maps_to='optim_wrapper.optimizer.weight_decay'),
    'lr_scheduler': Field('str', 'MultiStep', 'MultiStep (x lr_decay at lr_steps) or AutoReduce (on a plateau)',
                          choices=['MultiStep', 'AutoReduce'],
                          maps_to='param_scheduler: MultiStepLR | AutoReduceLR'),
    'lr_monitor': Field('str', 'val_loss', 'loss watched by AutoReduce', choices=['val_loss', 'train_loss'],
                        maps_to='param_scheduler[0].monitor'),
    'patience': Field('int', 1, 'AutoReduce: epochs without improvement before reducing', low=1,
                      maps_to='param_scheduler[0].patience'),
    'min_lr': Field('float', 1e-4, 'AutoReduce: lower bound of the learning rate', low=0.0,
                    maps_to='param_scheduler[0].min_value'),
    'lr_steps': Field('int_list', [10, 60], 'MultiStep: epochs at which the rate is multiplied by lr_decay', low=1,
                      maps_to='param_scheduler[0].milestones'),
    'lr_decay': Field('float', 0.1, 'learning-rate multiplier of both schedulers', low=0.0, high=1.0, low_open=True,
                      maps_to='param_scheduler[0].gamma | factor'),
})

TRAIN = Section('training', {
    'num_gpus': Field('int', 1, 'number of GPUs (> 1: one process per GPU through torchrun)', low=1,
                      maps_to='launcher'),
    'gpu_ids': Field('int_list', [0], 'GPU indices (disagreeing with num_gpus: the larger set wins, as in TAO)',
                     low=0, maps_to='CUDA device / torchrun'),
    'num_nodes': Field('int', 1, 'number of nodes (> 1 needs the distributed launcher)', low=1, maps_to='launcher'),
    'seed': Field('int', 1234, 'random seed; -1: no fixed seed', low=-1, maps_to='randomness.seed'),
    'cudnn': Section('cuDNN flags', {
        'benchmark': Field('bool', False, 'cudnn.benchmark', maps_to='env_cfg.cudnn_benchmark'),
        'deterministic': Field('bool', True, 'deterministic cuDNN algorithms', maps_to='randomness.deterministic'),
    }),
    'num_epochs': Field('int', 10, 'training epochs', low=1, maps_to='train_cfg.max_epochs'),
    'checkpoint_interval': Field('int', 1, 'write model_epoch_XXX.pth every N epochs (pc_model_latest.pth: every '
                                 'epoch)', low=1, maps_to='default_hooks.checkpoint.interval'),
    'checkpoint_interval_unit': Field('str', 'epoch', 'unit of checkpoint_interval', choices=['epoch']),
    'validation_interval': Field('int', 1, 'validate every N epochs', low=1, maps_to='train_cfg.val_interval'),
    'resume_training_checkpoint_path': Field(
        'str', None, 'resume from this checkpoint (takes precedence over <results_dir>/train/pc_model_latest.pth)',
        nullable=True, maps_to='load_from + resume=True'),
    'results_dir': Field('str', None, 'output folder of training (default <results_dir>/train)', nullable=True,
                         maps_to='work_dir'),
    'grad_clip': Field('float', 0.0, 'clip the gradient L2 norm to this value; 0: no clipping', low=0.0,
                       maps_to='optim_wrapper.clip_grad.max_norm'),
    'optim': OPTIM,
})

_CKPT_DOC = 'checkpoint (.pth, posecls-encrypted or plain), or an exported .onnx / OpenVINO .xml / TensorRT engine'


def _runtime_fields(task: str) -> Dict[str, Field]:
    """``<task>.backend`` / ``<task>.precision``: the runtime of an exported model (posecls.deploy.init_backend)."""
    return {
        'backend': Field('str', None, f'runtime of the exported model of the {task} (default: by suffix: .onnx '
                         'onnxruntime, .xml openvino, .engine tensorrt); only for an exported model',
                         choices=['onnxruntime', 'openvino', 'tensorrt'], nullable=True, tao=False),
        'precision': Field('str', None, 'precision of that runtime: f32, bf16 (openvino, a CPU with bf16) or int8 (a '
                           'model written by posecls-quantize); default: as the model file holds it',
                           choices=['f32', 'bf16', 'int8'], nullable=True, tao=False),
    }

EVALUATE = Section('evaluation', {
    'checkpoint': Field('str', None, _CKPT_DOC, nullable=True),
    'trt_engine': Field('str', None, 'TensorRT engine, ONNX file or OpenVINO .xml to evaluate instead',
                        nullable=True),
    'test_dataset': _dataset_paths('evaluation set', 'test_dataloader'),
    'batch_size': Field('int', -1, 'batch size; -1: dataset.batch_size', low=-1, not_zero=True),
    'results_dir': Field('str', None, 'output folder (default <results_dir>/evaluate)', nullable=True),
    **_runtime_fields('evaluation'),
    **_device_fields('evaluation'),
})

INFERENCE = Section('inference', {
    'checkpoint': Field('str', None, _CKPT_DOC, nullable=True),
    'trt_engine': Field('str', None, 'TensorRT engine, ONNX file or OpenVINO .xml to run instead',
                        nullable=True),
    'test_dataset': _dataset_paths('sequences to classify', 'test_dataloader',
                                   label_doc='optional; only checked against the data (labels are not needed)'),
    'output_file': Field('str', None, 'text file, one predicted class name per line (default '
                         '<results_dir>/inference/inference.txt)', nullable=True),
    'output_scores': Field('bool', False, "also write TAO-Triton's ranked logits 'idx, s0(i0)=label0, ...'",
                           tao=False),
    'scores_file': Field('str', None, 'file of the ranked logits (default <inference results_dir>/results.txt)',
                         nullable=True, tao=False),
    'batch_size': Field('int', -1, 'batch size; -1: dataset.batch_size', low=-1, not_zero=True),
    'results_dir': Field('str', None, 'output folder (default <results_dir>/inference)', nullable=True),
    **_runtime_fields('inference'),
    **_device_fields('inference'),
})

EXPORT = Section('ONNX export', {
    'checkpoint': Field('str', None, 'checkpoint to export', nullable=True),
    'onnx_file': Field('str', None, 'output .onnx (default <results_dir>/export/<checkpoint name>.onnx)',
                       nullable=True),
    'gpu_id': Field('int', 0, 'GPU used for the export when one is available', low=0),
    'results_dir': Field('str', None, 'output folder (default <results_dir>/export)', nullable=True),
    'opset': Field('int', 12, 'ONNX opset (Einsum needs >= 12)', low=9, tao=False),
    'dynamic_batch': Field('bool', True, 'dynamic batch axis (TAO: yes)', tao=False),
    'use_einsum': Field('bool', True, 'keep the Einsum graph op (TAO); false: matmul form (old runtimes; fastest on '
                        'CPUs)', tao=False),
    'verify': Field('bool', True, 'compare ONNX Runtime outputs with PyTorch after export', tao=False),
    'force': Field('bool', False, 'overwrite an existing onnx_file (TAO refuses)', tao=False),
})

GEN_TRT_ENGINE = Section('TensorRT engine from the ONNX file (posecls; TAO has no such task; an NVIDIA GPU)', {
    'onnx_file': Field('str', None, 'input .onnx', nullable=True),
    'trt_engine': Field('str', None, 'output engine (default <results_dir>/gen_trt_engine/<onnx name>.engine)',
                        nullable=True),
    'gpu_id': Field('int', 0, 'GPU that builds the engine', low=0),
    'results_dir': Field('str', None, 'output folder (default <results_dir>/gen_trt_engine)', nullable=True),
    'force': Field('bool', False, 'overwrite an existing engine', tao=False),
    'tensorrt': Section('TensorRT builder', {
        'data_type': Field('str', 'fp16', 'precision (PoseClassificationNet has no INT8 calibration)',
                           choices=['fp16', 'fp32']),
        'workspace_size': Field('int', 1024, 'builder workspace in MiB', low=1),
        'min_batch_size': Field('int', 1, 'smallest batch of the optimisation profile', low=1),
        'opt_batch_size': Field('int', 4, 'batch the engine is tuned for', low=1),
        'max_batch_size': Field('int', 16, 'largest batch', low=1),
    }),
}, tao=False)

DATASET_CONVERT = Section('deepstream-bodypose-3d JSON -> skeleton arrays (docs/reference.md §5.3)', {
    'results_dir': Field('str', None, 'output folder (default <results_dir>/dataset_convert)', nullable=True),
    'data': Field('paths', None, 'JSON written by deepstream-pose-estimation-app --save-pose (posecls: also a '
                  'folder of *.json, a glob or a list of files)', nullable=True),
    'pose_type': Field('str', '3dbp', 'features to extract', choices=['3dbp', '25dbp', '2dbp']),
    'num_joints': Field('int', 34, 'joints per pose', low=1),
    'input_width': Field('int', 1920, 'frame width in pixels (25dbp, 2dbp)', low=1),
    'input_height': Field('int', 1080, 'frame height in pixels (25dbp, 2dbp)', low=1),
    'focal_length': Field('float', 1200.0, 'focal length in pixels (3dbp)', low=0.0, low_open=True),
    'sequence_length_max': Field('int', 300, 'T of the output arrays (zero padded)', low=1),
    'sequence_length_min': Field('int', 10, 'shortest window kept', low=1),
    'sequence_length': Field('int', 100, 'window length', low=1),
    'sequence_overlap': Field('float', 0.5, 'window step = int(sequence_length x sequence_overlap)', low=0.0,
                              high=1.0, low_open=True),
    # posecls extensions, passed to posecls.datasets.deepstream.convert (docs/dataset_convert.md)
    'split_gap': Field('int', None, 'split a track where frame_num jumps by more than this many frames', low=1,
                       nullable=True, tao=False),
    'labels': Field('rows', None, 'labels CSV (or list of rows): build train/val arrays + label files instead of '
                    'object_<id>.npy', nullable=True, tao=False),
    'label_map': Field('label_map_or_path', None, 'class name -> id of the labelled dataset (mapping or JSON path)',
                       nullable=True, tao=False),
    'val_ratio': Field('float', None, 'fraction of each class put in the val split (labelled mode)', low=0.0,
                       high=1.0, low_open=True, high_open=True, nullable=True, tao=False),
    'val_files': Field('str_list', None, 'input files whose windows form the val split (labelled mode)',
                       nullable=True, tao=False),
    'seed': Field('int', 0, 'seed of the val_ratio split', tao=False),
    'progress': Field('choice', 'auto', 'progress bar on stderr', choices=[True, False, 'auto'], tao=False),
    'chunk_bytes': Field('int', 1 << 20, 'bytes parsed per streaming step', low=1024, tao=False),
})

WANDB = Section('Weights & Biases logging (posecls: off by default, needs the wandb package)', {
    'enable': Field('bool', False, 'log to W&B (TAO: on when logged in; posecls: only when asked)',
                    maps_to='visualizer.vis_backends += WandbVisBackend'),
    'project': Field('str', 'TAO Toolkit', 'W&B project'),
    'entity': Field('str', None, 'W&B entity', nullable=True),
    'name': Field('str', 'TAO Toolkit training experiment', 'run name'),
    'tags': Field('str_list', ['training', 'tao-toolkit'], 'run tags'),
    'reinit': Field('bool', False, 'wandb.init(reinit=...)'),
    'sync_tensorboard': Field('bool', False, 'wandb.init(sync_tensorboard=...)'),
    'save_code': Field('bool', False, 'wandb.init(save_code=...)'),
})

SPEC = Section('experiment spec', {
    'results_dir': Field('str', None, 'root output folder; task <t> writes to <results_dir>/<t>', nullable=True),
    'encryption_key': Field('str', None, 'passphrase: checkpoints are AES-GCM encrypted with it (never written '
                            'to configs, logs or checkpoints)', nullable=True),
    'model_name': Field('str', 'pose_classification', 'network name (TAO >= 6)', choices=['pose_classification']),
    'custom_imports': Field('str_list', [], 'Python modules imported before the spec is checked, to register your own '
                            'layouts / backbones (like a config\'s custom_imports; run from the folder holding them '
                            'or put it on PYTHONPATH)', tao=False, maps_to='custom_imports.imports'),
    'model': MODEL,
    'dataset': DATASET,
    'train': TRAIN,
    'evaluate': EVALUATE,
    'inference': INFERENCE,
    'export': EXPORT,
    'gen_trt_engine': GEN_TRT_ENGINE,
    'dataset_convert': DATASET_CONVERT,
    'wandb': WANDB,
})

#: Task name -> top-level sections it reads (for ``--help``).
TASK_SECTIONS: Dict[str, List[str]] = {
    'train': ['model', 'dataset', 'train', 'wandb'],
    'evaluate': ['model', 'dataset', 'evaluate'],
    'inference': ['model', 'dataset', 'inference'],
    'export': ['model', 'dataset', 'export'],
    'gen_trt_engine': ['gen_trt_engine'],
    'dataset_convert': ['dataset_convert'],
}
TASKS = tuple(TASK_SECTIONS)
TOP_LEVEL_KEYS = ('results_dir', 'encryption_key', 'model_name', 'custom_imports')
