"""Map a validated TAO spec onto posecls's mmengine config (the same registries and Runner as configs/).

The produced config has exactly the structure of ``configs/stgcn_nvidia.py`` and
its ``_base_`` files (a test keeps them equal), so a TAO spec trains through the
same ``PoseRunner`` as ``tools/train.py``. The encryption key is deliberately
not part of it: mmengine dumps configs into ``work_dir`` and checkpoint meta.
"""
from typing import Any, Dict, List, Optional

from mmengine.config import Config

from posecls.tao.spec import task_results_dir

OPTIMIZERS = {'torch.optim.SGD': 'SGD', 'torch.optim.Adam': 'Adam', 'torch.optim.Adamax': 'Adamax'}


def num_joints_of(layout: str) -> int:
    """Joints V of a registered skeleton layout."""
    from posecls.graphs import get_layout
    return get_layout(layout).num_node


def backbone_config(spec: Dict[str, Any]) -> Dict[str, Any]:
    """``model.backbone``: TAO's ST-GCN, or the backbone ``model.model_type`` names, with its ``backbone_options``.

    ST-GCN gets TAO's structure (and ``dropout`` / ``edge_importance_weighting``); every other backbone gets the
    layout, strategy, channels and ``base_channels`` and keeps its own defaults for everything else.
    """
    from posecls.tao.schema import MODEL_TYPES
    m = spec['model']
    graph = dict(layout=m['graph_layout'], strategy=m['graph_strategy'], max_hop=1, dilation=1)
    name = MODEL_TYPES.get(m['model_type'], m['model_type'])
    if name == 'STGCN':
        backbone = dict(type='STGCN', in_channels=m['input_channels'], graph_cfg=graph,
                        edge_importance_weighting=m['edge_importance_weighting'], data_bn=True,
                        base_channels=m['base_channels'], temporal_kernel_size=9, dropout=m['dropout'])
    else:
        backbone = dict(type=name, in_channels=m['input_channels'], graph_cfg=graph, base_channels=m['base_channels'])
    backbone.update(m.get('backbone_options') or {})
    return backbone


def backbone_out_channels(backbone: Dict[str, Any]) -> int:
    """C' of the backbone's features (``out_channels`` of the built module; 4 x base_channels for ST-GCN)."""
    if backbone['type'] == 'STGCN':
        return 4 * backbone['base_channels']
    from posecls.registry import MODELS
    from posecls.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    return int(MODELS.build(dict(backbone)).out_channels)


def model_config(spec: Dict[str, Any]) -> Dict[str, Any]:
    """``model`` of the config: the spec's backbone (TAO's ST-GCN by default), layout, channels and classes.

    ``model_type: ProtoGCN`` gets its full training objective, as ``configs/_base_/models/protogcn.py``:
    ``ProtoGCNRecognizer`` + ``ProtoGCNHead`` (cross-entropy plus the class-specific contrastive loss, weight 0.2,
    over the layout's V x V prototype reconstruction); every other backbone ``SkeletonRecognizer`` + ``GCNHead``.
    """
    backbone = backbone_config(spec)
    head = dict(type='GCNHead', num_classes=spec['dataset']['num_classes'],
                in_channels=backbone_out_channels(backbone), dropout=0.0, loss_cls=dict(type='CrossEntropyLoss'))
    recognizer = 'SkeletonRecognizer'
    if backbone['type'] == 'ProtoGCN':
        recognizer = 'ProtoGCNRecognizer'
        head.update(type='ProtoGCNHead', num_nodes=num_joints_of(backbone['graph_cfg']['layout']))
    return dict(type=recognizer, backbone=backbone, cls_head=head,
                data_preprocessor=dict(type='SkeletonDataPreprocessor'))


def train_pipeline(spec: Dict[str, Any]) -> List[Dict[str, Any]]:
    """TAO's feeder order: random_choose, else auto_pad when window_size > 0; then random_move."""
    ds = spec['dataset']
    steps: List[Dict[str, Any]] = []
    if ds['random_choose']:
        steps.append(dict(type='RandomChoose', window_size=ds['window_size']))
    elif ds['window_size'] > 0:
        steps.append(dict(type='AutoPad', window_size=ds['window_size']))
    if ds['random_move']:
        steps.append(dict(type='RandomMove'))
    steps.append(dict(type='PackPoseInputs'))
    return steps


def dataset_config(spec: Dict[str, Any], paths: Dict[str, Optional[str]],
                   pipeline: List[Dict[str, Any]]) -> Dict[str, Any]:
    """A PoseDataset entry checking joints and channels against the model."""
    ds = spec['dataset']
    return dict(type='PoseDataset', data_path=paths['data_path'], label_path=paths['label_path'],
                label_map=ds['label_map'], num_classes=ds['num_classes'],
                num_joints=num_joints_of(spec['model']['graph_layout']),
                num_channels=spec['model']['input_channels'], pipeline=pipeline)


def _loader(spec: Dict[str, Any], dataset: Dict[str, Any], train: bool) -> Dict[str, Any]:
    ds = spec['dataset']
    loader = dict(batch_size=ds['batch_size'], num_workers=ds['num_workers'], persistent_workers=False)
    if train:
        loader.update(drop_last=True, sampler=dict(type='PoseSampler', shuffle=True))
    else:
        loader.update(sampler=dict(type='DefaultSampler', shuffle=False))
    loader['dataset'] = dataset
    return loader


def test_loader(spec: Dict[str, Any], dataset: Dict[str, Any]) -> Dict[str, Any]:
    """A test/validation dataloader (no shuffling) of ``dataset``."""
    return _loader(spec, dataset, train=False)


def optim_wrapper_config(spec: Dict[str, Any]) -> Dict[str, Any]:
    """``optim_wrapper``: SGD(lr, momentum, nesterov, weight_decay) (or Adam/Adamax) and L2 gradient clipping."""
    tr, opt = spec['train'], spec['train']['optim']
    name = OPTIMIZERS[opt['optimizer_type']]
    if name == 'SGD':
        optimizer = dict(type='SGD', lr=opt['lr'], momentum=opt['momentum'], nesterov=opt['nesterov'],
                         weight_decay=opt['weight_decay'])
    else:
        optimizer = dict(type=name, lr=opt['lr'], weight_decay=opt['weight_decay'])
    clip = dict(max_norm=tr['grad_clip'], norm_type=2) if tr['grad_clip'] > 0 else None
    return dict(type='OptimWrapper', optimizer=optimizer, clip_grad=clip)


def param_scheduler_config(spec: Dict[str, Any]) -> List[Dict[str, Any]]:
    """MultiStepLR(lr_steps, lr_decay) or AutoReduceLR(lr_monitor, lr_decay, patience, min_lr)."""
    opt = spec['train']['optim']
    if opt['lr_scheduler'] == 'MultiStep':
        return [dict(type='MultiStepLR', by_epoch=True, milestones=list(opt['lr_steps']), gamma=opt['lr_decay'])]
    return [dict(type='AutoReduceLR', monitor=opt['lr_monitor'], rule='less', factor=opt['lr_decay'],
                 patience=opt['patience'], min_value=opt['min_lr'])]


def _vis_backends(spec: Dict[str, Any]) -> List[Dict[str, Any]]:
    backends: List[Dict[str, Any]] = [dict(type='LocalVisBackend')]
    wb = spec['wandb']
    if wb['enable']:
        init = dict(project=wb['project'], name=wb['name'], tags=list(wb['tags']), reinit=wb['reinit'],
                    sync_tensorboard=wb['sync_tensorboard'], save_code=wb['save_code'])
        if wb['entity']:
            init['entity'] = wb['entity']
        backends.append(dict(type='WandbVisBackend', init_kwargs=init))
    return backends


def spec_to_config(spec: Dict[str, Any], work_dir: Optional[str] = None) -> Config:
    """The mmengine config equivalent to a validated spec (training view).

    Args:
        spec: From :func:`posecls.tao.spec.load_spec` (checked for ``train``).
        work_dir: Defaults to the train results dir (``<results_dir>/train``).

    Returns:
        Config with ``load_from=None`` and ``resume=False``; the train task sets
        them by TAO's resume precedence.
    """
    ds, tr = spec['dataset'], spec['train']
    train_ds = dataset_config(spec, ds['train_dataset'], train_pipeline(spec))
    val_pipeline = [dict(type='PackPoseInputs')]  # TAO: val/test/predict never augment
    has_val = ds['val_dataset']['data_path'] is not None
    ev_paths = spec['evaluate']['test_dataset']
    test_paths = ev_paths if ev_paths['data_path'] is not None else (ds['val_dataset'] if has_val else None)
    seed = tr['seed']
    cfg: Dict[str, Any] = dict(
        default_scope='posecls',
        runner_type='PoseRunner',
        model=model_config(spec),
        train_dataloader=_loader(spec, train_ds, train=True),
        optim_wrapper=optim_wrapper_config(spec),
        param_scheduler=param_scheduler_config(spec),
        train_cfg=dict(type='EpochBasedTrainLoop', max_epochs=tr['num_epochs'], val_begin=1,
                       val_interval=tr['validation_interval']),
        val_cfg=dict(type='ValLoop') if has_val else None,
        val_dataloader=(_loader(spec, dataset_config(spec, ds['val_dataset'], val_pipeline), train=False)
                        if has_val else None),
        val_evaluator=[dict(type='PoseAccMetric', topk=(1, 5))] if has_val else None,
        test_cfg=dict(type='TestLoop') if test_paths else None,
        test_dataloader=(_loader(spec, dataset_config(spec, test_paths, val_pipeline), train=False)
                         if test_paths else None),
        test_evaluator=[dict(type='PoseAccMetric', topk=(1, 5), with_confusion_matrix=True)] if test_paths else None,
        default_hooks=dict(
            runtime_info=dict(type='RuntimeInfoHook'),
            timer=dict(type='IterTimerHook'),
            logger=dict(type='LoggerHook', interval=20, ignore_last=False),
            param_scheduler=dict(type='ParamSchedulerHook'),
            checkpoint=dict(type='PoseCheckpointHook', interval=tr['checkpoint_interval']),
            sampler_seed=dict(type='DistSamplerSeedHook'),
            sync_buffers=dict(type='SyncBuffersHook'),
        ),
        custom_hooks=[],
        env_cfg=dict(cudnn_benchmark=tr['cudnn']['benchmark'], cudnn_deterministic=tr['cudnn']['deterministic'],
                     mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0), dist_cfg=dict(backend='auto')),
        log_processor=dict(type='LogProcessor', window_size=20, by_epoch=True),
        visualizer=dict(type='Visualizer', vis_backends=_vis_backends(spec)),
        log_level='INFO',
        randomness=dict(seed=seed if seed >= 0 else None, deterministic=False),
        auto_scale_lr=dict(enable=False, base_batch_size=16),
        load_from=None,
        resume=False,
        work_dir=work_dir if work_dir is not None else task_results_dir(spec, 'train'),
    )
    if spec['custom_imports']:  # the user's layout / backbone modules, for every tool that reads this config
        cfg['custom_imports'] = dict(imports=list(spec['custom_imports']), allow_failed_imports=False)
    return Config(cfg)
