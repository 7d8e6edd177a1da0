"""NW-UCLA / MSR Action3D recipes: the user-registered Kinect layout, every config on the real files, a short
end-to-end run (train -> test --dump -> fuse). Tests that read ../shared/data skip without it."""
import glob
import json
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config

from posecls.registry import DATASETS, GRAPHS, MODELS

from conftest import REPO, shared_dataset

RECIPES = sorted(glob.glob(osp.join(REPO, 'configs', 'nwucla', '*.py')) +
                 glob.glob(osp.join(REPO, 'configs', 'msr_action3d', '*.py')))
DATASET_OF = {'nwucla': ('nw_ucla', 10, 464), 'msr_action3d': ('msr_action3d', 20, 273)}


def recipe_id(path: str) -> str:
    return f'{osp.basename(osp.dirname(path))}/{osp.basename(path)}'


def with_shared_data(cfg: Config, folder: str) -> Config:
    root = shared_dataset(folder)
    for split, name in (('train', 'train'), ('val', 'val'), ('test', 'val')):
        ds = cfg[f'{split}_dataloader']['dataset']
        ds['data_path'] = osp.join(root, f'{name}_data.npy')
        ds['label_path'] = osp.join(root, f'{name}_label.pkl')
    return cfg


def test_kinect_layout_is_not_built_in_and_registers_through_custom_imports():
    """A fresh interpreter, as a user runs the tools: the config's custom_imports registers the layout."""
    import posecls.graphs.builtin_layouts as builtin
    assert 'kinect-v1-20' not in json.dumps([getattr(c, 'name', '') for c in vars(builtin).values()])
    code = ("from posecls.tools.common import load_config\n"
            "from posecls.registry import GRAPHS, MODELS\n"
            "from posecls.utils import register_all_modules\n"
            "register_all_modules()\n"
            "assert 'kinect-v1-20' not in GRAPHS.module_dict\n"
            "cfg = load_config('configs/nwucla/ctrgcn_joint.py')\n"
            "m = MODELS.build(cfg.model)\n"
            "print(type(GRAPHS.get('kinect-v1-20')).__name__, tuple(m.backbone.graph.A.shape))\n")
    out = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith('(3, 20, 20)')


@pytest.mark.parametrize('folder', ['nw_ucla', 'msr_action3d'])
def test_kinect_layout_matches_the_datasets_layout_json(folder):
    import projects.kinect_v1.layout  # noqa: F401  (the user module)
    with open(osp.join(shared_dataset(folder), 'layout.json')) as f:
        ref = json.load(f)
    layout = GRAPHS.get('kinect-v1-20')()
    assert layout.num_node == ref['num_joints']
    assert [list(e) for e in layout.edges] == ref['edges']
    assert layout.center == ref['center']
    assert layout.joint_names == ref['joint_names']


@pytest.mark.parametrize('path', RECIPES, ids=recipe_id)
def test_recipe_builds_and_reads_the_real_data(path):
    cfg = Config.fromfile(path)
    folder, num_classes, num_val = DATASET_OF[osp.basename(osp.dirname(path))]
    model = MODELS.build(cfg.model).eval()
    assert model.num_classes == num_classes and model.backbone.num_node == 20
    cfg = with_shared_data(cfg, folder)
    val = DATASETS.build(cfg.test_dataloader.dataset)
    train = DATASETS.build(cfg.train_dataloader.dataset)
    assert len(val) == num_val and val.classes[0] == sorted(val.label_map, key=val.label_map.get)[0]
    clip_len = cfg.clip_len
    batch = [val[i]['inputs'] for i in (0, 1)] + [train[(5, 0, 0)]['inputs']]
    assert all(tuple(x.shape) == (3, clip_len, 20, 1) for x in batch)
    assert all(float(x.abs().max()) <= 3.0 for x in batch)  # min-max scaled coordinates (streams: differences)
    with torch.no_grad():
        assert tuple(model(torch.stack(batch)).shape) == (3, num_classes)


@pytest.mark.slow
def test_short_real_run_train_test_dump_and_fuse(tmp_path, monkeypatch):
    """Tiny CTR-GCN, joint and bone streams on MSR Action3D: tools/train.py -> tools/test.py --dump -> fusion."""
    root = shared_dataset('msr_action3d')
    monkeypatch.chdir(REPO)
    from posecls.tools import fuse_scores, test, train
    dumps = []
    for stream in ('joint', 'bone'):
        cfg = osp.join(REPO, 'configs', 'msr_action3d', f'ctrgcn_{stream}.py')
        work = str(tmp_path / stream)
        opts = ['model.backbone.base_channels=8', 'model.cls_head.in_channels=32', 'train_cfg.max_epochs=2',
                'train_cfg.val_interval=2', 'default_hooks.logger.interval=5']
        for split, name in (('train', 'train'), ('val', 'val'), ('test', 'val')):
            opts += [f'{split}_dataloader.dataset.data_path={root}/{name}_data.npy',
                     f'{split}_dataloader.dataset.label_path={root}/{name}_label.pkl']
        train.main([cfg, '--work-dir', work, '--cfg-options', *opts])
        assert osp.isfile(osp.join(work, 'pc_model_latest.pth'))
        dump = str(tmp_path / f'{stream}.npz')
        metrics = test.main([cfg, osp.join(work, 'pc_model_latest.pth'), '--work-dir', work + '/test', '--dump', dump,
                             '--cfg-options', *opts])
        cm = np.asarray(metrics['confusion_matrix'])
        assert cm.shape == (20, 20) and cm.sum() == 273
        assert metrics['acc/top1'] == pytest.approx(np.trace(cm) / cm.sum())
        with np.load(dump) as z:
            assert z['scores'].shape == (273, 20) and z['labels'].shape == (273, )
            assert metrics['acc/top1'] == pytest.approx(float((z['scores'].argmax(1) == z['labels']).mean()))
        dumps.append(dump)
        if stream == 'joint':  # the deployment path: ONNX at the recipe's clip length, evaluated like the checkpoint
            from posecls.tools import export_onnx
            onnx_file = str(tmp_path / 'joint.onnx')
            report = export_onnx.main([cfg, osp.join(work, 'pc_model_latest.pth'), '--out', onnx_file,
                                       '--cfg-options', *opts])
            assert report['io_shapes']['input'] == ['batch', 3, 40, 20, 1]
            assert report['num_real_samples'] == 8 and report['max_abs_diff']['real'] <= 1e-4
            onnx_metrics = test.main([cfg, onnx_file, '--work-dir', work + '/test_onnx', '--cfg-options', *opts])
            assert onnx_metrics['acc/top1'] == pytest.approx(metrics['acc/top1'])
    report = fuse_scores.main(dumps + ['--weights', '1', '1', '--out', str(tmp_path / 'fused.npz')])
    assert set(report) == set(dumps) | {'fused'}
    with np.load(tmp_path / 'fused.npz') as z:
        np.testing.assert_allclose(z['scores'].sum(axis=1), 1.0, rtol=1e-6)
        assert report['fused']['top1'] == pytest.approx(float((z['scores'].argmax(1) == z['labels']).mean()))
