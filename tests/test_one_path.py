"""One evaluation driver and one inference loop: a checkpoint, its ONNX export, tools/test.py, tools/inference.py,
posecls evaluate/inference and inference_recognizer give the same numbers and refuse the same mistakes."""
import os.path as osp

import numpy as np
import pytest
import torch

from posecls.apis import inference_recognizer, init_model, init_recognizer
from posecls.deploy import export_onnx, init_backend
from posecls.utils.checkpoint import ClassCountError

from _deploy_fixtures import TINY_SHAPE, torch_logits
from conftest import REPO, tiny_config

CLIP_LEN = 16


@pytest.fixture(scope='module')
def ten_clips(tmp_path_factory, tiny_data_dir, tiny_deploy):
    """tiny_deploy's weights under a test pipeline of 10 clips, its checkpoint and its ONNX export (T = 16)."""
    out = tmp_path_factory.mktemp('ten_clips')
    cfg = tiny_config(tiny_data_dir, str(out / 'work'))
    cfg.test_dataloader.dataset.pipeline = [dict(type='UniformSample', clip_len=CLIP_LEN, num_clips=10, test_mode=True),
                                            dict(type='PackPoseInputs')]
    cfg_file = str(out / 'ten_clips.py')
    cfg.dump(cfg_file)
    model = init_recognizer(cfg_file, tiny_deploy['ckpt'])
    onnx_file = str(out / 'ten_clips.onnx')
    export_onnx(model, onnx_file, input_shape=(3, CLIP_LEN, 34, 1))
    return dict(cfg_file=cfg_file, ckpt=tiny_deploy['ckpt'], onnx=onnx_file, model=model, dir=str(out))


def test_pth_and_onnx_dumps_are_equal_with_ten_clips(ten_clips, tmp_path):
    """Clip averaging lives in one place: the recognizer and the deployed model average the same way."""
    from posecls.tools.test import main
    dumps = {}
    for kind in ('ckpt', 'onnx'):
        dump = str(tmp_path / f'{kind}.npz')
        main([ten_clips['cfg_file'], ten_clips[kind], '--work-dir', str(tmp_path / kind), '--dump', dump])
        with np.load(dump) as z:
            dumps[kind] = {k: z[k] for k in z.files}
    assert dumps['ckpt']['logits'].shape == (6, 6)
    for key in ('logits', 'scores'):
        np.testing.assert_allclose(dumps['onnx'][key], dumps['ckpt'][key], atol=1e-5, rtol=0)
    assert (dumps['onnx']['names'] == dumps['ckpt']['names']).all()


def test_average_clips_prob_and_score():
    from posecls.models.recognizers import average_clips, pack_predictions
    clips = torch.tensor([[[4.0, 0.0], [0.0, 2.0]]])  # one sample, two clips that disagree
    logits, prob = average_clips(clips, 'prob')
    torch.testing.assert_close(logits, torch.tensor([[2.0, 1.0]]))
    torch.testing.assert_close(prob, (clips.softmax(-1).mean(1)))
    _, score = average_clips(clips, 'score')
    torch.testing.assert_close(score, logits.softmax(-1))
    assert float((prob - score).abs().max()) > 0.05  # the two rules really differ for disagreeing clips
    sample = pack_predictions(clips, 'prob')[0]
    assert int(sample.pred_label) == 0 and torch.equal(sample.pred_logits, logits[0])
    with pytest.raises(ValueError, match="average_clips must be one of"):
        average_clips(clips, 'max')


def test_inference_recognizer_equals_the_test_loop_for_every_model(ten_clips, tmp_path):
    """inference_recognizer runs the test loop's pipeline, collate, preprocessor and averaging."""
    from posecls.tools.test import main
    dump = str(tmp_path / 'd.npz')
    main([ten_clips['cfg_file'], ten_clips['ckpt'], '--work-dir', str(tmp_path / 'w'), '--dump', dump])
    with np.load(dump) as z:
        ref_logits, ref_scores = z['logits'], z['scores']
    data = np.load(osp.join(osp.dirname(ten_clips['model'].cfg.test_dataloader.dataset.data_path), 'val_data.npy'))
    for path in (ten_clips['ckpt'], ten_clips['onnx']):
        model = init_model(ten_clips['cfg_file'], path)
        np.testing.assert_allclose(inference_recognizer(model, data, batch_size=4), ref_logits, atol=1e-5)
        np.testing.assert_allclose(inference_recognizer(model, data, return_probs=True), ref_scores, atol=1e-5)
    backend = init_backend(ten_clips['onnx'], cfg=ten_clips['cfg_file'])  # a bare backend is wrapped the same way
    np.testing.assert_allclose(inference_recognizer(backend, data), ref_logits, atol=1e-5)


def test_random_test_pipeline_is_seeded_like_the_dataset(tiny_data_dir, tiny_deploy, tmp_path):
    """Sample i draws from (dataset seed, i) in the test loop and in inference_recognizer alike."""
    from posecls.tools.test import main
    cfg = tiny_config(tiny_data_dir, str(tmp_path / 'work'))
    cfg.test_dataloader.dataset.pipeline = [dict(type='RandomMove'), dict(type='PackPoseInputs')]
    cfg.test_dataloader.dataset.seed = 7
    cfg_file = str(tmp_path / 'rand.py')
    cfg.dump(cfg_file)
    dump = str(tmp_path / 'd.npz')
    main([cfg_file, tiny_deploy['ckpt'], '--work-dir', str(tmp_path / 'w'), '--dump', dump])
    with np.load(dump) as z:
        ref = z['logits']
    model = init_model(cfg_file, tiny_deploy['ckpt'])
    data = np.load(osp.join(tiny_data_dir, 'val_data.npy'))
    np.testing.assert_allclose(inference_recognizer(model, data, batch_size=2), ref, atol=1e-6)
    # the random transform changes the logits (far above float noise), and another seed changes them again
    assert np.abs(inference_recognizer(model, data, pipeline=[dict(type='PackPoseInputs')]) - ref).max() > 1e-5
    cfg.test_dataloader.dataset.seed = 8
    cfg.dump(cfg_file)
    assert np.abs(inference_recognizer(init_model(cfg_file, tiny_deploy['ckpt']), data) - ref).max() > 1e-5


@pytest.fixture(scope='module')
def seven_classes(tmp_path_factory, tiny_data_dir, tiny_deploy):
    """A 7-class config for tiny_deploy's 6-class checkpoint and export."""
    out = tmp_path_factory.mktemp('seven')
    cfg = tiny_config(tiny_data_dir, str(out / 'work'))
    cfg.model.cls_head.num_classes = 7
    for split in ('train', 'val', 'test'):
        ds = cfg[f'{split}_dataloader'].dataset
        ds.label_map = dict(ds.label_map, extra=6)
        ds.num_classes = 7
    path = str(out / 'seven.py')
    cfg.dump(path)
    return path


@pytest.mark.parametrize('kind', ['ckpt', 'onnx'])
def test_class_count_mismatch_is_refused_by_every_path(seven_classes, tiny_deploy, tmp_path, kind):
    from posecls.tools.inference import main as inference
    from posecls.tools.test import main as test
    model_file = tiny_deploy[kind]
    message = (r'was trained for 6 classes but the config has 7' if kind == 'ckpt'
               else r'predicts 6 classes but the config has 7')
    with pytest.raises(ClassCountError, match=message):
        test([seven_classes, model_file, '--work-dir', str(tmp_path / 'test')])
    with pytest.raises(ClassCountError, match=message):
        inference([seven_classes, model_file, tiny_deploy['data'], '--out', str(tmp_path / 'p.txt')])
    with pytest.raises(ClassCountError, match=message):
        init_model(seven_classes, model_file)
    assert not osp.exists(tmp_path / 'p.txt')
    if kind == 'ckpt':
        from posecls.tools.export_onnx import main as export
        with pytest.raises(ClassCountError, match=message):
            export([seven_classes, model_file, '--out', str(tmp_path / 'm.onnx')])
        assert not osp.exists(tmp_path / 'm.onnx')


def test_fine_tuning_still_reinitialises_the_classifier(seven_classes, tiny_deploy, tmp_path):
    """load_from with another class count is fine-tuning: training starts, the head is new, the backbone loaded."""
    from mmengine.config import Config

    from posecls.tools.common import build_runner
    cfg = Config.fromfile(seven_classes)
    cfg.load_from, cfg.resume, cfg.work_dir = tiny_deploy['ckpt'], False, str(tmp_path / 'ft')
    cfg.train_cfg.max_epochs = 1
    runner = build_runner(cfg)
    runner.train()
    assert runner.model.cls_head.fcn.weight.shape[0] == 7


def test_parity_check_uses_the_inference_loop_on_raw_sequences(tiny_deploy):
    from posecls.deploy import check_parity
    backend = init_backend(tiny_deploy['onnx'])
    x = np.random.default_rng(3).standard_normal((5, ) + TINY_SHAPE).astype(np.float32)
    report = check_parity(tiny_deploy['model'], backend, x)
    assert report['passed'] and report['top1_agreement']['real'] == 1.0
    np.testing.assert_allclose(backend.infer(x), torch_logits(tiny_deploy['model'], x), atol=1e-4)


def test_one_home_per_command():
    """Every command implementation lives in posecls/tools/ and is named after the library module it drives."""
    import importlib
    tools = {'export_onnx': 'posecls.deploy.export_onnx', 'gen_trt_engine': 'posecls.deploy.gen_trt_engine',
             'serve': 'posecls.deploy.triton.serve', 'triton_client': 'posecls.deploy.triton.triton_client',
             'triton_repo': 'posecls.deploy.triton.triton_repo', 'load_test': 'posecls.deploy.triton.load_test',
             'inference': 'posecls.apis.inference', 'test': 'posecls.apis.test',
             'dataset_convert': 'posecls.datasets.deepstream.dataset_convert',
             'fuse_scores': 'posecls.evaluation.fuse_scores'}
    for tool, library in tools.items():
        assert osp.isfile(osp.join(REPO, 'posecls', 'tools', f'{tool}.py')), tool
        importlib.import_module(library)
    assert not osp.exists(osp.join(REPO, 'posecls', 'deploy', 'tools'))
    assert not osp.exists(osp.join(REPO, 'posecls', 'deploy', 'evaluate.py'))
