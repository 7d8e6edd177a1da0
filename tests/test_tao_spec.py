"""TAO spec handling: defaults, the override grammar, every validation error, results_dir and GPU rules, help."""
import os
import os.path as osp
import subprocess
import sys

import pytest
import yaml

from posecls.tao.checks import check_task
from posecls.tao.cli import main
from posecls.tao.devices import plan_devices
from posecls.tao.errors import SpecError
from posecls.tao.schema import SPEC
from posecls.tao.spec import build_spec, load_spec, resolve_gpus, task_results_dir

from conftest import REPO

SEED_SPEC = osp.join(REPO, 'specs', 'experiment_nvidia.yaml')
KINETICS_SPEC = osp.join(REPO, 'specs', 'experiment_kinetics.yaml')
SIX = ['sitting_down', 'getting_up', 'sitting', 'standing', 'walking', 'jumping']


def test_empty_spec_has_taos_defaults():
    spec = build_spec({})
    assert spec['results_dir'] is None and spec['encryption_key'] is None
    assert spec['model'] == dict(model_type='ST-GCN', pretrained_model_path=None, input_channels=3, dropout=0.5,
                                 graph_layout='nvidia', graph_strategy='spatial', edge_importance_weighting=True,
                                 base_channels=64, backbone_options={})
    assert spec['custom_imports'] == []
    ds = spec['dataset']
    assert (ds['num_classes'], ds['label_map'], ds['random_choose'], ds['random_move'], ds['window_size'],
            ds['batch_size'], ds['num_workers']) == (6, None, False, False, -1, 16, 1)
    tr = spec['train']
    assert (tr['num_gpus'], tr['gpu_ids'], tr['seed'], tr['num_epochs'], tr['checkpoint_interval'],
            tr['validation_interval'], tr['grad_clip']) == (1, [0], 1234, 10, 1, 1, 0.0)
    assert tr['cudnn'] == dict(benchmark=False, deterministic=True)
    assert tr['optim'] == dict(optimizer_type='torch.optim.SGD', lr=0.1, momentum=0.9, nesterov=True,
                               weight_decay=1e-4, lr_scheduler='MultiStep', lr_monitor='val_loss', patience=1,
                               min_lr=1e-4, lr_steps=[10, 60], lr_decay=0.1)
    assert spec['evaluate']['batch_size'] == -1 and spec['inference']['output_file'] is None
    dc = spec['dataset_convert']
    assert (dc['pose_type'], dc['num_joints'], dc['input_width'], dc['input_height'], dc['focal_length'],
            dc['sequence_length_max'], dc['sequence_length_min'], dc['sequence_length'],
            dc['sequence_overlap']) == ('3dbp', 34, 1920, 1080, 1200.0, 300, 10, 100, 0.5)


def test_seed_spec_values_and_interpolation():
    spec = load_spec(SEED_SPEC, ['results_dir=/r'])
    assert spec['encryption_key'] == 'nvidia_tao'
    assert list(spec['dataset']['label_map']) == SIX and spec['dataset']['batch_size'] == 16
    assert spec['train']['num_epochs'] == 70 and spec['train']['checkpoint_interval'] == 5
    assert spec['train']['optim']['lr_steps'] == [10, 60]
    assert spec['model']['pretrained_model_path'] is None  # TAO's "" means none
    assert spec['evaluate']['checkpoint'] == '/r/train/pc_model_latest.pth'  # ${results_dir} follows the override
    assert spec['inference']['output_file'] == '/r/inference/inference.txt'
    kin = load_spec(KINETICS_SPEC)
    assert kin['model']['graph_layout'] == 'openpose' and kin['dataset']['window_size'] == 150
    assert kin['dataset']['random_choose'] and kin['dataset']['random_move']


@pytest.mark.parametrize('override, key, expected', [
    ('train.optim.lr_steps=[1,2]', 'train.optim.lr_steps', [1, 2]),
    ('train.optim.lr_steps=[ 5 ]', 'train.optim.lr_steps', [5]),
    ('dataset.random_move=true', 'dataset.random_move', True),
    ('dataset.random_move=False', 'dataset.random_move', False),
    ('model.pretrained_model_path=null', 'model.pretrained_model_path', None),
    ('results_dir=', 'results_dir', None),
    ('results_dir=/data/run 1', 'results_dir', '/data/run 1'),
    ('train.optim.lr=1e-3', 'train.optim.lr', 0.001),
    ('train.optim.lr=1', 'train.optim.lr', 1.0),
    ('train.num_epochs=5', 'train.num_epochs', 5),
    ('train.seed=-1', 'train.seed', -1),
    ('encryption_key=0123', 'encryption_key', '0123'),
    ('encryption_key="a b"', 'encryption_key', 'a b'),
    ('encryption_key=null', 'encryption_key', None),
    ('dataset.label_map={a: 0, b: 1}', 'dataset.label_map', {'a': 0, 'b': 1}),
    ('+train.seed=7', 'train.seed', 7),
    ('++train.seed=8', 'train.seed', 8),
    ('dataset.train_dataset={data_path: x.npy}', 'dataset.train_dataset', {'data_path': 'x.npy', 'label_path': None}),
])
def test_override_grammar(override, key, expected):
    spec = build_spec({'train': {'seed': 1}}, [override])
    node = spec
    for part in key.split('.'):
        node = node[part]
    assert node == expected and type(node) is type(expected)


def test_overrides_apply_in_order_over_the_file():
    spec = build_spec({'train': {'num_epochs': 3}}, ['train.num_epochs=4', 'train.num_epochs=6'])
    assert spec['train']['num_epochs'] == 6


@pytest.mark.parametrize('override, message', [
    ('train.num_epochs', r"override 'train.num_epochs' is not of the form section.key=value"),
    ('train.num_epoch=5', r"unknown key 'train.num_epoch' .*allowed keys in train: num_gpus, gpu_ids, .*num_epochs"),
    ('foo=1', r"unknown key 'foo' .*allowed keys at the top level: results_dir, encryption_key"),
    ('dataset.label_map.walking=1', r'dataset.label_map is a value, not a section'),
    ('train..seed=1', r"malformed key 'train..seed'"),
    ('train.optim.lr_steps=[1,', r"cannot parse the value of override 'train.optim.lr_steps=\[1,'"),
])
def test_override_errors(override, message):
    with pytest.raises(SpecError, match=message):
        build_spec({}, [override])


@pytest.mark.parametrize('override, message', [
    ('train.num_epochs=0', r'train.num_epochs: got 0 \(int\); expected an int >= 1'),
    ('train.num_epochs=abc', r"train.num_epochs: got 'abc' \(str\); expected an int >= 1"),
    ('train.num_epochs=2.5', r'train.num_epochs: got 2.5 \(float\); expected an int >= 1'),
    ('train.num_epochs=true', r'train.num_epochs: got True \(bool\)'),
    ('model.graph_layout=kinect', r"model.graph_layout: 'kinect' is not allowed; allowed values: .*'coco'.*'nvidia'"),
    ('model.graph_strategy=radial', r"model.graph_strategy: 'radial' is not allowed; allowed values: 'distance', "
                                    r"'spatial', 'uniform'"),
    ('model.model_type=ResNet', r"model.model_type: 'ResNet' is not allowed; allowed values: 'ST-GCN', "
                                r"'ST-GCN\+\+', 'CTR-GCN'"),
    ('model.dropout=1.0', r'model.dropout: got 1.0 \(float\); expected a number >= 0.0 and < 1.0'),
    ('model.input_channels=0', r'model.input_channels: got 0 .*>= 1'),
    ('model.edge_importance_weighting=yes please', r'model.edge_importance_weighting: .*expected true or false'),
    ('dataset.window_size=0', r'dataset.window_size: got 0 \(int\); expected an int >= -1 and != 0'),
    ('dataset.batch_size=0', r'dataset.batch_size: got 0'),
    ('dataset.num_workers=-1', r'dataset.num_workers: got -1 .*>= 0'),
    ('dataset.num_classes=0', r'dataset.num_classes: got 0'),
    ('dataset.label_map={a: 0, b: 2}', r'dataset.label_map: class ids must be exactly 0..1 .*got \[0, 2\]'),
    ('dataset.label_map={a: x}', r'dataset.label_map.a: class id must be an int'),
    ('dataset.label_map=[a, b]', r'dataset.label_map: got .*expected a mapping \{class name: id\}'),
    ('train.optim.lr_scheduler=Cosine', r"train.optim.lr_scheduler: 'Cosine' is not allowed; allowed values: "
                                        r"'MultiStep', 'AutoReduce'"),
    ('train.optim.lr_monitor=val_acc', r"allowed values: 'val_loss', 'train_loss'"),
    ('train.optim.optimizer_type=torch.optim.RMSprop', r"allowed values: 'torch.optim.SGD', 'torch.optim.Adam'"),
    ('train.optim.lr=0', r'train.optim.lr: got 0.0 \(float\); expected a number > 0.0'),
    ('train.optim.lr=fast', r"train.optim.lr: got 'fast'"),
    ('train.optim.momentum=-0.1', r'train.optim.momentum: got -0.1'),
    ('train.optim.lr_steps=[10,x]', r'train.optim.lr_steps: .*train.optim.lr_steps\[1\] = .x. is not an int'),
    ('train.optim.lr_steps=[0]', r'train.optim.lr_steps: got \[0\] .*items >= 1'),
    ('train.optim.lr_steps=10', r'train.optim.lr_steps: got 10 \(int\); expected a list of ints'),
    ('train.optim.lr_decay=1.5', r'train.optim.lr_decay: got 1.5 .*> 0.0 and <= 1.0'),
    ('train.optim.patience=0', r'train.optim.patience: got 0'),
    ('train.optim.min_lr=-1', r'train.optim.min_lr: got -1.0'),
    ('train.seed=-2', r'train.seed: got -2 .*>= -1'),
    ('train.gpu_ids=[-1]', r'train.gpu_ids: got \[-1\] .*items >= 0'),
    ('train.num_gpus=0', r'train.num_gpus: got 0'),
    ('train.checkpoint_interval_unit=step', r"'step' is not allowed; allowed values: 'epoch'"),
    ('train.grad_clip=-1', r'train.grad_clip: got -1.0'),
    ('train.cudnn.benchmark=1', r'train.cudnn.benchmark: got 1 \(int\); expected true or false'),
    ('evaluate.batch_size=0', r'evaluate.batch_size: got 0 .*!= 0'),
    ('evaluate.num_nodes=2', r'evaluate.num_nodes: got 2 .*<= 1'),
    ('export.opset=8', r'export.opset: got 8 .*>= 9'),
    ('gen_trt_engine.tensorrt.data_type=int8', r"'int8' is not allowed; allowed values: 'fp16', 'fp32'"),
    ('dataset_convert.pose_type=4dbp', r"allowed values: '3dbp', '25dbp', '2dbp'"),
    ('dataset_convert.sequence_overlap=0', r'dataset_convert.sequence_overlap: got 0.0 .*> 0.0 and <= 1.0'),
    ('dataset_convert.focal_length=0', r'dataset_convert.focal_length: got 0.0'),
    ('model_name=classification', r"model_name: 'classification' is not allowed; allowed values: "
                                  r"'pose_classification'"),
    ('wandb.tags=[1]', r'wandb.tags: .*wandb.tags\[0\] = 1 is not a string'),
])
def test_invalid_values_name_key_value_and_allowed(override, message):
    with pytest.raises(SpecError, match=message):
        build_spec({}, [override])


def test_errors_in_the_yaml_file(tmp_path):
    path = tmp_path / 'bad.yaml'
    path.write_text('train:\n  num_epoch: 5\n')
    with pytest.raises(SpecError, match=r"unknown key 'train.num_epoch'; allowed keys in train: .*num_epochs"):
        load_spec(str(path))
    path.write_text('model: 3\n')
    with pytest.raises(SpecError, match=r"'model' is a section \(model_type, pretrained_model_path"):
        load_spec(str(path))
    path.write_text('- a\n- b\n')
    with pytest.raises(SpecError, match='the spec must be a YAML mapping'):
        load_spec(str(path))
    path.write_text('train: [\n')
    with pytest.raises(SpecError, match='is not valid YAML'):
        load_spec(str(path))
    with pytest.raises(SpecError, match='experiment spec not found'):
        load_spec(str(tmp_path / 'missing.yaml'))
    path.write_text('results_dir: ${results_dir}/x\n')
    with pytest.raises(SpecError, match='circular interpolation'):
        load_spec(str(path))
    path.write_text('results_dir: ${nothing.here}\n')
    with pytest.raises(SpecError, match=r'interpolation \$\{nothing.here\} refers to a key that does not exist'):
        load_spec(str(path))


@pytest.fixture
def files(tmp_path):
    """Existing dummy files for the file checks (contents are not read by check_task)."""
    out = {}
    for name in ('train.npy', 'train.pkl', 'val.npy', 'val.pkl', 'ckpt.pth', 'model.onnx', 'poses.json'):
        p = tmp_path / name
        p.write_bytes(b'x')
        out[name] = str(p)
    out['dir'] = str(tmp_path)
    return out


def _train_raw(files):
    return {'results_dir': osp.join(files['dir'], 'res'),
            'dataset': {'train_dataset': {'data_path': files['train.npy'], 'label_path': files['train.pkl']},
                        'val_dataset': {'data_path': files['val.npy'], 'label_path': files['val.pkl']},
                        'label_map': {n: i for i, n in enumerate(SIX)}},
            'train': {'num_epochs': 4}}


def test_valid_train_spec_passes(files):
    spec = build_spec(_train_raw(files))
    assert check_task(spec, 'train') == []


@pytest.mark.parametrize('overrides, message', [
    (['dataset.label_map=null'], r'dataset.label_map is required for this task'),
    (['dataset.num_classes=5'], r'dataset.num_classes=5 disagrees with dataset.label_map, which has 6 classes'),
    (['dataset.train_dataset.data_path=/no/such.npy'], r'dataset.train_dataset.data_path: file not found: /no/such'),
    (['dataset.train_dataset.label_path=null'], r'dataset.train_dataset.label_path is required'),
    (['dataset.val_dataset.label_path=null'], r'dataset.val_dataset.label_path is required .*unset both val paths'),
    (['dataset.random_choose=true'], r'dataset.random_choose=true needs dataset.window_size >= 1'),
    (['train.checkpoint_interval=5'], r'train.checkpoint_interval=5 is larger than train.num_epochs=4; '
                                      r'allowed: 1..4'),
    (['train.validation_interval=9'], r'train.validation_interval=9 is larger than train.num_epochs=4'),
    (['train.optim.lr_steps=[3,2]'], r'train.optim.lr_steps: \[3, 2\] must be strictly increasing'),
    (['train.optim.momentum=0'], r'train.optim.nesterov=true needs train.optim.momentum > 0'),
    (['train.optim.lr_scheduler=AutoReduce', 'train.validation_interval=2'],
     r'AutoReduce with lr_monitor=val_loss .*validation_interval must be 1, got 2'),
    (['train.optim.lr_scheduler=AutoReduce', 'train.optim.lr_decay=1.0'], r'AutoReduce needs a factor < 1'),
    (['train.optim.lr_scheduler=AutoReduce', 'dataset.val_dataset.data_path=null',
      'dataset.val_dataset.label_path=null'], r'AutoReduce with lr_monitor=val_loss needs dataset.val_dataset'),
    (['train.resume_training_checkpoint_path=/x/model.ckpt'], r'must end in .pth or .tlt'),
    (['train.resume_training_checkpoint_path=/x/model.pth'], r'resume_training_checkpoint_path: file not found'),
    (['model.pretrained_model_path=/x/w.pth'], r'model.pretrained_model_path: file not found: /x/w.pth'),
    (['train.gpu_ids=[1,1]'], r'train.gpu_ids: \[1, 1\] lists a GPU twice'),
    (['results_dir=null'], r'results_dir is not set: set results_dir \(outputs go to <results_dir>/train\) or '
                           r'train.results_dir'),
])
def test_train_task_checks(files, overrides, message):
    spec = build_spec(_train_raw(files), overrides)
    with pytest.raises(SpecError, match=message):
        check_task(spec, 'train')


@pytest.mark.parametrize('task, overrides, message', [
    ('evaluate', [], r'evaluate.checkpoint is required for this task \(or evaluate.trt_engine\)'),
    ('evaluate', ['evaluate.checkpoint={ckpt}'], r'evaluate.test_dataset.data_path is required'),
    ('evaluate', ['evaluate.checkpoint=/no.pth'], r'evaluate.checkpoint: file not found: /no.pth'),
    ('evaluate', ['evaluate.checkpoint={ckpt}', 'evaluate.test_dataset.data_path={npy}'],
     r'evaluate.test_dataset.label_path is required'),
    ('inference', ['inference.checkpoint={ckpt}', 'inference.test_dataset.data_path={npy}',
                   'inference.scores_file=s.txt'],
     r'inference.scores_file is set but inference.output_scores is false'),
    ('inference', ['inference.checkpoint={ckpt}', 'inference.test_dataset.data_path={npy}', 'dataset.label_map=null'],
     r'dataset.label_map is required'),
    ('export', [], r'export.checkpoint is required'),
    ('export', ['export.checkpoint={onnx}'], r'already a deployment file'),
    ('export', ['export.checkpoint={ckpt}', 'export.opset=11'], r'export.opset=11: the Einsum op needs opset >= 12'),
    ('export', ['export.checkpoint={ckpt}', 'export.onnx_file={onnx}'], r'export.onnx_file: .* already exists'),
    ('gen_trt_engine', [], r'gen_trt_engine.onnx_file is required'),
    ('gen_trt_engine', ['gen_trt_engine.onnx_file={onnx}', 'gen_trt_engine.tensorrt.opt_batch_size=32'],
     r'min_batch_size <= opt_batch_size <= max_batch_size, got 1, 32, 16'),
    ('dataset_convert', [], r'dataset_convert.data is required'),
    ('dataset_convert', ['dataset_convert.data={json}', 'dataset_convert.sequence_length=400'],
     r'sequence_length_min <= sequence_length <= sequence_length_max, got 10, 400, 300'),
    ('dataset_convert', ['dataset_convert.data={json}', 'dataset_convert.sequence_overlap=0.001'],
     r'the window step int\(sequence_length x sequence_overlap\) = 0; it must be >= 1'),
])
def test_other_task_checks(files, task, overrides, message):
    subst = dict(ckpt=files['ckpt.pth'], npy=files['val.npy'], onnx=files['model.onnx'], json=files['poses.json'])
    spec = build_spec(_train_raw(files), [o.format(**subst) for o in overrides])
    with pytest.raises(SpecError, match=message):
        check_task(spec, task)


def test_validation_fails_before_any_work(files, capsys):
    res = osp.join(files['dir'], 'never')
    rc = main(['train', '-e', SEED_SPEC, f'results_dir={res}', 'train.num_epochs=0'])
    assert rc == 2
    err = capsys.readouterr().err
    assert 'posecls train: error in the experiment spec: train.num_epochs: got 0 (int); expected an int >= 1' in err
    missing = osp.join(files['dir'], 'missing', 'train_data.npy')  # never the repository's data/ (it may exist)
    rc = main(['train', '-e', SEED_SPEC, f'results_dir={res}', f'dataset.train_dataset.data_path={missing}'])
    assert rc == 2 and f'dataset.train_dataset.data_path: file not found: {missing}' in capsys.readouterr().err
    assert not osp.exists(res)


@pytest.mark.parametrize('num_gpus, gpu_ids, expected', [
    (1, [0], (1, [0])),
    (2, [0, 1], (2, [0, 1])),
    (2, [3], (2, [0, 1])),  # num_gpus larger: the first num_gpus GPUs
    (1, [2, 3], (2, [2, 3])),  # gpu_ids larger: they win
    (4, [1, 2], (4, [0, 1, 2, 3])),
    (2, [], (2, [0, 1])),
])
def test_tao_gpu_rule(num_gpus, gpu_ids, expected):
    assert resolve_gpus(num_gpus, gpu_ids) == expected


def test_gpu_rule_is_applied_with_a_note(files):
    spec = build_spec(_train_raw(files), ['train.num_gpus=1', 'train.gpu_ids=[2,3]'])
    notes = check_task(spec, 'train')
    assert (spec['train']['num_gpus'], spec['train']['gpu_ids']) == (2, [2, 3])
    assert notes == ['train.num_gpus=1 disagrees with train.gpu_ids=[2, 3]; using GPUs [2, 3] (num_gpus=2), '
                     'as TAO does']
    spec = build_spec(_train_raw(files), ['evaluate.checkpoint=' + files['ckpt.pth'], 'evaluate.gpu_id=3',
                                          'evaluate.test_dataset={data_path: %s, label_path: %s}'
                                          % (files['val.npy'], files['val.pkl'])])
    check_task(spec, 'evaluate')
    assert spec['evaluate']['gpu_ids'] == [3]  # TAO 5's gpu_id wins


def test_device_plans():
    plan = plan_devices('train', [0, 1], cuda_count=0)
    assert plan.mode == 'cpu' and plan.device == 'cpu'
    assert plan.messages == ['No GPU found, training on CPU (ignoring train.gpu_ids=[0, 1], num_nodes=1).']
    assert plan_devices('evaluate', [0], cuda_count=0).messages == ['No GPU found, running evaluate on CPU.']
    assert plan_devices('train', [1], cuda_count=2).device == 'cuda:1'
    assert plan_devices('train', [0, 1], cuda_count=2).mode == 'distributed'
    single = plan_devices('evaluate', [1, 0], cuda_count=2, multi_gpu=False)
    assert single.gpu_ids == [1] and 'using GPU 1 of [1, 0]' in single.messages[0]
    with pytest.raises(SpecError, match=r'train.gpu_ids=\[0, 3\]: GPU 3 does not exist; 2 GPU\(s\) are visible'):
        plan_devices('train', [0, 3], cuda_count=2)


def test_multi_gpu_training_relaunches_through_torchrun(tiny_data_dir, tmp_path, monkeypatch, capsys):
    """More than one GPU: `posecls train` re-runs itself as torchrun workers via posecls.engine.launcher."""
    import posecls.engine.launcher as launcher
    import posecls.tao.devices as devices
    calls = []

    def fake_launch(module, args, **kwargs):
        calls.append((module, list(args), kwargs))
        return 3

    monkeypatch.setattr(devices, 'cuda_device_count', lambda: 4)
    monkeypatch.setattr(launcher, 'launch', fake_launch)
    monkeypatch.delenv('CUDA_VISIBLE_DEVICES', raising=False)
    monkeypatch.delenv('LOCAL_RANK', raising=False)
    d = tiny_data_dir
    overrides = [f'results_dir={tmp_path}', f'dataset.train_dataset.data_path={d}/train_data.npy',
                 f'dataset.train_dataset.label_path={d}/train_label.pkl',
                 f'dataset.val_dataset.data_path={d}/val_data.npy', f'dataset.val_dataset.label_path={d}/val_label.pkl',
                 'train.num_gpus=1', 'train.gpu_ids=[2,3]']
    assert main(['train', '-e', SEED_SPEC, *overrides]) == 3  # torchrun's exit code
    assert calls == [('posecls', ['train', '-e', SEED_SPEC, *overrides],
                      dict(nproc_per_node=2, nnodes=1, node_rank=0, master_addr='127.0.0.1', master_port=29500,
                           cuda_visible_devices='2,3'))]
    out = capsys.readouterr().out
    assert 'Note: train.num_gpus=1 disagrees with train.gpu_ids=[2, 3]; using GPUs [2, 3]' in out
    assert not osp.exists(osp.join(str(tmp_path), 'train'))  # the parent process trains nothing itself
    monkeypatch.setenv('LOCAL_RANK', '1')
    monkeypatch.setenv('WORLD_SIZE', '2')
    from posecls.tao.devices import in_torchrun_worker
    assert in_torchrun_worker()
    monkeypatch.setenv('WORLD_SIZE', '1')
    assert not in_torchrun_worker()


def test_results_dir_per_task():
    spec = build_spec({'results_dir': '/r', 'evaluate': {'results_dir': '/elsewhere'}})
    assert task_results_dir(spec, 'train') == '/r/train'
    assert task_results_dir(spec, 'inference') == '/r/inference'
    assert task_results_dir(spec, 'evaluate') == '/elsewhere'
    assert task_results_dir(build_spec({}, ['train.results_dir=/t']), 'train') == '/t'


def test_task_help_lists_keys_with_defaults(capsys):
    with pytest.raises(SystemExit) as e:
        main(['train', '--help'])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for line in ('train.optim.lr = 0.1', 'train.optim.lr_steps = [10, 60]', 'dataset.batch_size = 16',
                 'train.num_epochs = 10', 'model.graph_layout = nvidia', 'encryption_key = null',
                 'train.resume_training_checkpoint_path = null', 'model.base_channels = 64'):
        assert line in out, line
    assert "one of: 'MultiStep', 'AutoReduce'" in out and '[posecls]' in out
    with pytest.raises(SystemExit):
        main(['evaluate', '--help'])
    out = capsys.readouterr().out
    assert 'evaluate.checkpoint = null' in out and 'evaluate.batch_size = -1' in out
    assert 'train.optim.lr = ' not in out


def test_every_schema_key_is_documented():
    doc = open(osp.join(REPO, 'docs', 'tao_cli.md')).read()
    missing = [key for key, _ in SPEC.iter_fields() if f'`{key}`' not in doc]
    assert not missing, f'keys missing from docs/tao_cli.md: {missing}'


def test_python_dash_m_posecls(tmp_path):
    env = dict(os.environ, PYTHONPATH=REPO)
    r = subprocess.run([sys.executable, '-m', 'posecls', 'inference', '--help'], capture_output=True, text=True,
                       env=env, cwd=str(tmp_path), timeout=120)
    assert r.returncode == 0 and 'inference.output_file = null' in r.stdout
    r = subprocess.run([sys.executable, '-m', 'posecls', 'train', '-e', SEED_SPEC, 'train.optim.lr_scheduler=Step'],
                       capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=120)
    assert r.returncode == 2
    assert "train.optim.lr_scheduler: 'Step' is not allowed; allowed values: 'MultiStep', 'AutoReduce'" in r.stderr
    r = subprocess.run([sys.executable, '-m', 'posecls', 'fly', '-e', SEED_SPEC], capture_output=True, text=True,
                       env=env, timeout=120)
    assert r.returncode == 2 and 'invalid choice' in r.stderr


def test_shipped_specs_round_trip_through_yaml(tmp_path):
    """A resolved spec written back as YAML loads to the same spec (experiment_spec.yaml in results dirs)."""
    from posecls.tao.spec import spec_to_yaml
    spec = load_spec(SEED_SPEC)
    text = spec_to_yaml(spec)
    assert 'nvidia_tao' not in text and text.startswith('# encryption_key was set')
    again = build_spec(yaml.safe_load(text))
    assert again == dict(spec, encryption_key=None)
