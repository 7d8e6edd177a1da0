"""The spec path and the config path build the same model, optimizer and schedule; `config convert` writes it."""
import os.path as osp
import warnings

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper

from posecls.registry import MODELS, PARAM_SCHEDULERS
from posecls.tao.cli import main
from posecls.tao.spec import load_spec
from posecls.tao.to_config import spec_to_config, train_pipeline

from conftest import REPO

SEED_SPEC = osp.join(REPO, 'specs', 'experiment_nvidia.yaml')
KINETICS_SPEC = osp.join(REPO, 'specs', 'experiment_kinetics.yaml')


def _config(name):
    return Config.fromfile(osp.join(REPO, 'configs', name))


def _lr_curve(cfg, model, epochs):
    """Learning rate of each epoch when the config's optimizer and schedulers are built and stepped."""
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    scheds = [PARAM_SCHEDULERS.build(dict(s, optimizer=optim)) for s in cfg.param_scheduler]
    lrs = []
    for _ in range(epochs):
        lrs.append(optim.param_groups[0]['lr'])
        with warnings.catch_warnings():  # no optimizer.step() here: only the schedule is compared
            warnings.simplefilter('ignore', UserWarning)
            for s in scheds:
                s.step()
    return optim, lrs


@pytest.mark.parametrize('spec_file, config_file', [(SEED_SPEC, 'stgcn_nvidia.py'),
                                                    (KINETICS_SPEC, 'stgcn_openpose.py')])
def test_spec_and_config_build_the_same_model_optimizer_and_schedule(spec_file, config_file):
    spec_cfg = spec_to_config(load_spec(spec_file, ['results_dir=/tmp/unused']))
    cfg = _config(config_file)
    assert spec_cfg.model == cfg.model
    assert spec_cfg.optim_wrapper == cfg.optim_wrapper
    assert spec_cfg.param_scheduler == cfg.param_scheduler
    assert spec_cfg.train_cfg.max_epochs == cfg.train_cfg.max_epochs
    assert spec_cfg.default_hooks.checkpoint == cfg.default_hooks.checkpoint
    assert spec_cfg.train_dataloader.dataset.pipeline == cfg.train_dataloader.dataset.pipeline
    assert spec_cfg.train_dataloader.batch_size == cfg.train_dataloader.batch_size
    assert spec_cfg.randomness.seed == cfg.randomness.seed
    models = []
    for c in (spec_cfg, cfg):  # build both for real: same parameters and the same initial weights
        torch.manual_seed(0)
        models.append(MODELS.build(c.model))
    a, b = (m.state_dict() for m in models)
    assert list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)
    epochs = cfg.train_cfg.max_epochs
    (opt_a, lr_a), (opt_b, lr_b) = _lr_curve(spec_cfg, models[0], epochs), _lr_curve(cfg, models[1], epochs)
    assert lr_a == lr_b and len(set(lr_a)) == len(cfg.param_scheduler[0].milestones) + 1  # it really decays
    ga, gb = opt_a.optimizer.param_groups[0], opt_b.optimizer.param_groups[0]
    assert type(opt_a.optimizer) is type(opt_b.optimizer) is torch.optim.SGD
    for key in ('momentum', 'nesterov', 'weight_decay', 'initial_lr'):
        assert ga[key] == gb[key], key


def test_spec_config_runtime_is_the_default_runtime():
    """Everything but the spec's own values comes out as in configs/_base_ (hooks, runtime, evaluators, loaders)."""
    spec_cfg = spec_to_config(load_spec(SEED_SPEC, ['results_dir=/r']))
    cfg = _config('stgcn_nvidia.py')
    for key in ('default_scope', 'runner_type', 'custom_hooks', 'default_hooks', 'log_processor', 'log_level',
                'visualizer', 'randomness', 'auto_scale_lr', 'val_evaluator', 'test_evaluator', 'val_cfg',
                'test_cfg'):
        assert spec_cfg[key] == cfg[key], key
    env = dict(spec_cfg.env_cfg)
    assert env.pop('cudnn_deterministic') is True  # TAO's train.cudnn.deterministic (PoseRunner applies it)
    assert env == cfg.env_cfg
    for split in ('train', 'val', 'test'):
        loader = spec_cfg[f'{split}_dataloader'].to_dict()
        assert loader['dataset'].pop('num_channels') == 3  # posecls checks C against model.input_channels
        assert loader == cfg[f'{split}_dataloader'].to_dict(), split


def test_autoreduce_spec_equals_the_autoreduce_schedule_config():
    spec_cfg = spec_to_config(load_spec(SEED_SPEC, ['results_dir=/r', 'train.optim.lr_scheduler=AutoReduce']))
    base = Config.fromfile(osp.join(REPO, 'configs', '_base_', 'schedules', 'sgd_autoreduce.py'))
    assert spec_cfg.param_scheduler == base.param_scheduler
    assert spec_cfg.train_cfg.val_interval == base.train_cfg.val_interval == 1


@pytest.mark.parametrize('overrides, key, expected', [
    (['train.grad_clip=5'], 'optim_wrapper.clip_grad', dict(max_norm=5.0, norm_type=2)),
    (['train.optim.optimizer_type=torch.optim.Adam'], 'optim_wrapper.optimizer',
     dict(type='Adam', lr=0.1, weight_decay=1e-4)),
    (['train.optim.lr_scheduler=AutoReduce', 'train.optim.lr_monitor=train_loss', 'train.optim.patience=3',
      'train.optim.min_lr=0.001', 'train.optim.lr_decay=0.5'], 'param_scheduler',
     [dict(type='AutoReduceLR', monitor='train_loss', rule='less', factor=0.5, patience=3, min_value=0.001)]),
    (['train.seed=-1'], 'randomness.seed', None),
    (['train.cudnn.benchmark=true', 'train.cudnn.deterministic=false'], 'env_cfg.cudnn_benchmark', True),
    (['train.validation_interval=2'], 'train_cfg.val_interval', 2),
    (['dataset.window_size=100'], 'train_dataloader.dataset.pipeline',
     [dict(type='AutoPad', window_size=100), dict(type='PackPoseInputs')]),
    (['dataset.random_choose=true', 'dataset.window_size=50', 'dataset.random_move=true'],
     'train_dataloader.dataset.pipeline',
     [dict(type='RandomChoose', window_size=50), dict(type='RandomMove'), dict(type='PackPoseInputs')]),
    (['dataset.val_dataset=null'], 'val_dataloader', None),
    (['model.graph_layout=coco', 'model.input_channels=2'], 'train_dataloader.dataset.num_joints', 17),
    (['dataset.num_workers=0', 'dataset.batch_size=3'], 'val_dataloader.batch_size', 3),
])
def test_spec_keys_map_onto_the_config(overrides, key, expected):
    cfg = spec_to_config(load_spec(SEED_SPEC, ['results_dir=/r'] + overrides))
    node = cfg
    for part in key.split('.'):
        node = node[part]
    assert node == expected


def test_val_and_test_pipelines_never_augment():
    spec = load_spec(KINETICS_SPEC, ['results_dir=/r'])
    cfg = spec_to_config(spec)
    assert train_pipeline(spec)[0] == dict(type='RandomChoose', window_size=150)
    assert cfg.val_dataloader.dataset.pipeline == [dict(type='PackPoseInputs')]
    assert cfg.test_dataloader.dataset.pipeline == [dict(type='PackPoseInputs')]


def test_wandb_section_adds_the_backend_only_when_enabled():
    cfg = spec_to_config(load_spec(SEED_SPEC, ['results_dir=/r']))
    assert cfg.visualizer.vis_backends == [dict(type='LocalVisBackend')]
    spec = load_spec(SEED_SPEC, ['results_dir=/r', 'wandb.enable=true', 'wandb.project=p', 'wandb.entity=e'])
    backends = spec_to_config(spec).visualizer.vis_backends
    assert backends[1]['type'] == 'WandbVisBackend'
    assert backends[1]['init_kwargs']['project'] == 'p' and backends[1]['init_kwargs']['entity'] == 'e'


def test_config_convert_writes_an_equivalent_config_without_the_key(tmp_path, capsys):
    out = str(tmp_path / 'my_exp.py')
    assert main(['config', 'convert', SEED_SPEC, 'results_dir=/exp', '-o', out]) == 0
    text = open(out).read()
    assert 'nvidia_tao' not in text and 'POSECLS_ENCRYPTION_KEY' in text
    cfg, base = Config.fromfile(out), _config('stgcn_nvidia.py')
    for key in ('model', 'optim_wrapper', 'param_scheduler'):
        assert cfg[key] == base[key], key
    assert cfg.work_dir == '/exp/train' and cfg.resume is True and cfg.load_from is None
    assert cfg.train_dataloader.dataset.label_map == base.train_dataloader.dataset.label_map
    weights = tmp_path / 'w.pth'
    weights.write_bytes(b'x')
    assert main(['config', 'convert', SEED_SPEC, f'model.pretrained_model_path={weights}']) == 0
    printed = capsys.readouterr().out
    assert f"load_from = '{weights}'" in printed and 'resume = False' in printed
    assert "work_dir = 'work_dirs/experiment_nvidia/train'" in printed
    assert main(['config', 'convert', SEED_SPEC, 'dataset.num_classes=4']) == 2
    assert 'dataset.num_classes=4 disagrees with dataset.label_map' in capsys.readouterr().err
