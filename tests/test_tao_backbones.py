"""The TAO command line reaches the whole framework: every backbone by model.model_type, their options checked
before work, user layouts and backbones through custom_imports, and TAO's small spec rules."""
import glob
import os.path as osp
import textwrap

import numpy as np
import pytest

from posecls.tao.checks import check_task
from posecls.tao.cli import main
from posecls.tao.errors import SpecError
from posecls.tao.spec import load_spec

from test_tao_e2e import SEED_SPEC, data_overrides

TINY = ['encryption_key=null', 'model.base_channels=8', 'train.num_epochs=1', 'train.checkpoint_interval=1',
        'train.validation_interval=1', 'dataset.batch_size=4',
        'dataset.num_workers=0']


@pytest.mark.parametrize('model_type, cls', [('ST-GCN++', 'STGCNPP'), ('CTR-GCN', 'CTRGCN'), ('ProtoGCN', 'ProtoGCN')])
def test_every_task_runs_with_another_backbone(model_type, cls, tiny_data_dir, tmp_path, capsys):
    import onnx

    from posecls.tao.tasks.common import task_config
    results = str(tmp_path / 'r')
    common = data_overrides(tiny_data_dir) + [f'results_dir={results}', f'model.model_type={model_type}', *TINY]
    assert main(['train', '-e', SEED_SPEC, *common]) == 0
    ckpt = osp.join(results, 'train', 'pc_model_latest.pth')
    if model_type == 'ProtoGCN':  # trained with the full objective: cross-entropy + the contrastive loss
        logs = glob.glob(osp.join(results, 'train', '*', '*.log'))
        assert logs and 'loss_proto:' in open(logs[0]).read()
    assert main(['evaluate', '-e', SEED_SPEC, *common, f'evaluate.checkpoint={ckpt}']) == 0
    assert 'Total accuracy' in capsys.readouterr().out
    out = osp.join(results, 'preds.txt')
    assert main(['inference', '-e', SEED_SPEC, *common, f'inference.checkpoint={ckpt}',
                 f'inference.output_file={out}']) == 0
    assert len(open(out).read().splitlines()) == 6
    onnx_file = osp.join(results, 'm.onnx')
    assert main(['export', '-e', SEED_SPEC, *common, f'export.checkpoint={ckpt}', f'export.onnx_file={onnx_file}']) == 0
    onnx.checker.check_model(onnx.load(onnx_file))
    cfg = task_config(load_spec(SEED_SPEC, common), 'evaluate')
    assert cfg.model.backbone.type == cls and cfg.model.cls_head.in_channels == 32  # 8 -> 16 -> 32


def test_backbone_options_are_checked_before_work(tiny_data_dir, tmp_path):
    common = data_overrides(tiny_data_dir) + [f'results_dir={tmp_path}/r', 'model.model_type=ST-GCN++', *TINY]
    spec = load_spec(SEED_SPEC, common + ['model.backbone_options={gcn_adaptive: importance, tcn_dropout: 0.2}'])
    check_task(spec, 'train')
    with pytest.raises(SpecError, match=r"model.backbone_options: STGCNPP has no option 'gcn_adaptve'.*"
                                        r"gcn_adaptive='init'"):
        check_task(load_spec(SEED_SPEC, common + ['model.backbone_options={gcn_adaptve: init}']), 'train')
    with pytest.raises(SpecError, match="model: STGCNPP refuses the spec .*tcn_type must be one of"):
        check_task(load_spec(SEED_SPEC, common + ['model.backbone_options={tcn_type: wavelet}']), 'train')
    with pytest.raises(SpecError, match="model.dropout=0.3 is an ST-GCN option; model.model_type=ST-GCN\\+\\+"):
        check_task(load_spec(SEED_SPEC, common + ['model.dropout=0.3']), 'train')
    assert not osp.exists(tmp_path / 'r')


def test_protogcn_options_go_through_backbone_options(tiny_data_dir, tmp_path):
    from posecls.tao.tasks.common import task_config
    common = data_overrides(tiny_data_dir) + [f'results_dir={tmp_path}/r', 'model.model_type=ProtoGCN', *TINY]
    spec = load_spec(SEED_SPEC, common + ['model.backbone_options={num_prototype: 50, topology: graph}'])
    check_task(spec, 'train')
    cfg = task_config(spec, 'train')
    assert cfg.model.backbone.type == 'ProtoGCN' and cfg.model.backbone.num_prototype == 50
    # the full objective, as configs/_base_/models/protogcn.py: the contrastive loss over V x V
    assert cfg.model.type == 'ProtoGCNRecognizer' and cfg.model.cls_head.type == 'ProtoGCNHead'
    assert cfg.model.cls_head.num_nodes == 34 and cfg.model.cls_head.in_channels == 4 * cfg.model.backbone.base_channels
    with pytest.raises(SpecError, match="model: ProtoGCN refuses the spec .*topology must be one of"):
        check_task(load_spec(SEED_SPEC, common + ['model.backbone_options={topology: skeleton}']), 'train')
    assert not osp.exists(tmp_path / 'r')


def test_user_layout_and_backbone_through_custom_imports(tmp_path, monkeypatch, capsys):
    """A 5-joint hand layout and a user backbone registered in the user's own module."""
    (tmp_path / 'my_hand.py').write_text(textwrap.dedent('''
        from posecls.graphs import SkeletonLayout
        from posecls.models.backbones import STGCNPP
        from posecls.registry import GRAPHS, MODELS

        @GRAPHS.register_module(name='hand5')
        class Hand5(SkeletonLayout):
            num_node = 5
            edges = [(0, 1), (1, 2), (2, 3), (3, 4)]
            center = 0

        @MODELS.register_module()
        class MyHandNet(STGCNPP):
            """ST-GCN++ with four blocks."""
            def __init__(self, num_stages=4, inflate_stages=(3, ), down_stages=(3, ), **kwargs):
                super().__init__(num_stages=num_stages, inflate_stages=inflate_stages, down_stages=down_stages,
                                 **kwargs)
    '''))
    from posecls.datasets import save_label_file
    rng = np.random.default_rng(0)
    data = rng.standard_normal((8, 3, 16, 5, 1)).astype(np.float32)
    np.save(tmp_path / 'x.npy', data)
    save_label_file(str(tmp_path / 'y.pkl'), [f's{i}' for i in range(8)], [i % 2 for i in range(8)])
    monkeypatch.chdir(tmp_path)
    common = [f'results_dir={tmp_path}/r', 'encryption_key=null', 'model.graph_layout=hand5', 'dataset.num_classes=2',
              'dataset.label_map={open: 0, fist: 1}', 'train.num_epochs=1', 'dataset.batch_size=4',
              'dataset.num_workers=0', 'train.checkpoint_interval=1', 'train.validation_interval=1',
              f'dataset.train_dataset.data_path={tmp_path}/x.npy',
              f'dataset.train_dataset.label_path={tmp_path}/y.pkl', 'dataset.val_dataset.data_path=null',
              'dataset.val_dataset.label_path=null', 'model.base_channels=8']
    assert main(['train', '-e', SEED_SPEC, *common]) == 2
    assert "model.graph_layout: 'hand5' is not allowed" in capsys.readouterr().err
    assert main(['train', '-e', SEED_SPEC, *common, 'custom_imports=[my_hand]', 'model.model_type=MyHandNet']) == 0
    from posecls.utils.checkpoint import load_checkpoint_file
    sd = load_checkpoint_file(f'{tmp_path}/r/train/pc_model_latest.pth')['state_dict']
    assert sum(k.endswith('.gcn.conv.weight') and k.startswith('backbone.gcn.') for k in sd) == 4  # four blocks
    assert main(['train', '-e', SEED_SPEC, *common, 'custom_imports=[no_such_module]']) == 2
    assert "custom_imports: cannot import 'no_such_module' (ModuleNotFoundError" in capsys.readouterr().err


def test_window_size_below_t_without_random_choose_notes_that_it_does_nothing(tiny_data_dir, tmp_path):
    spec = load_spec(SEED_SPEC, [f'results_dir={tmp_path}', 'encryption_key=null', 'dataset.window_size=16']
                     + data_overrides(tiny_data_dir))
    notes = check_task(spec, 'train')
    assert any('dataset.window_size=16 is smaller than the T=32 frames' in n and 'does nothing here' in n
               for n in notes)
    spec = load_spec(SEED_SPEC, [f'results_dir={tmp_path}', 'encryption_key=null', 'dataset.window_size=16',
                                 'dataset.random_choose=true'] + data_overrides(tiny_data_dir))
    assert not any('window_size' in n for n in check_task(spec, 'train'))


def test_a_wrong_num_joints_is_one_line(tmp_path, capsys):
    from posecls.datasets.deepstream import generate_deepstream_json
    generate_deepstream_json(str(tmp_path / 'd.json'), num_frames=20, num_tracks=1)
    spec = tmp_path / 'dc.yaml'
    spec.write_text(f'results_dir: {tmp_path}/r\ndataset_convert:\n  data: {tmp_path}/d.json\n  num_joints: 25\n')
    assert main(['dataset_convert', '-e', str(spec)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'has 136 values, expected 100 = num_joints 25 x 4' in err[0]
    assert 'set dataset_convert.num_joints=34' in err[0]
