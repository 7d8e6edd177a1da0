"""Mixed precision on the CPU: BF16OptimWrapper and tools/train.py --amp."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from torch import nn

from posecls.engine import BF16OptimWrapper
from posecls.registry import OPTIM_WRAPPERS
from posecls.tools import train as train_tool
from posecls.tools.common import build_runner
from posecls.utils.checkpoint import load_checkpoint_file

from conftest import tiny_config

cpu_only = pytest.mark.skipif(torch.cuda.is_available(), reason='--amp picks AmpOptimWrapper on a GPU')


def test_wrapper_autocasts_inside_its_context_and_keeps_float32_parameters():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 1), nn.Flatten(), nn.Linear(8 * 4 * 4, 2))
    wrapper = OPTIM_WRAPPERS.build(dict(type='BF16OptimWrapper', optimizer=torch.optim.SGD(model.parameters(),
                                                                                          lr=0.1)))
    assert isinstance(wrapper, BF16OptimWrapper)
    x, y = torch.randn(4, 3, 4, 4), torch.tensor([0, 1, 0, 1])
    before = [p.detach().clone() for p in model.parameters()]
    with wrapper.optim_context(model):
        hidden = model[0](x)
        loss = nn.functional.cross_entropy(model[2](model[1](hidden)), y)
    assert hidden.dtype == torch.bfloat16
    assert loss.dtype == torch.float32  # autocast keeps the loss in float32
    assert model[0](x).dtype == torch.float32  # outside the context: float32 again
    wrapper.update_params(loss)
    for p, p0 in zip(model.parameters(), before):
        assert p.dtype == torch.float32
        assert not torch.equal(p, p0)


def test_wrapper_state_dict_is_the_plain_optimizer_state():
    model = nn.Linear(3, 2)
    wrapper = BF16OptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
    with wrapper.optim_context(model):
        loss = model(torch.randn(5, 3)).float().pow(2).mean()
    wrapper.update_params(loss)
    state = wrapper.state_dict()
    assert set(state) == {'state', 'param_groups'}
    other = BF16OptimWrapper(optimizer=torch.optim.SGD(nn.Linear(3, 2).parameters(), lr=0.5, momentum=0.9))
    other.load_state_dict(state)
    assert other.param_groups[0]['lr'] == 0.1


@cpu_only
def test_enable_amp_on_cpu_selects_bf16_and_training_runs_in_bfloat16(tiny_data_dir, tmp_path):
    cfg = tiny_config(tiny_data_dir, str(tmp_path / 'work'), **{'train_cfg.max_epochs': 1})
    train_tool.enable_amp(cfg)
    assert cfg.optim_wrapper.type == 'BF16OptimWrapper'
    runner = build_runner(cfg)
    dtypes = []
    handle = runner.model.backbone.register_forward_hook(lambda m, i, o: dtypes.append((m.training, o.dtype)))
    runner.train()
    handle.remove()
    assert isinstance(runner.optim_wrapper, BF16OptimWrapper)
    assert {d for training, d in dtypes if training} == {torch.bfloat16}
    assert {d for training, d in dtypes if not training} == {torch.float32}  # validation stays float32
    assert all(p.dtype == torch.float32 for p in runner.model.parameters())


@cpu_only
def test_train_tool_amp_flag_trains_and_resumes_on_cpu(tiny_data_dir, tmp_path):
    work = str(tmp_path / 'work')
    cfg_file = str(tmp_path / 'tiny.py')
    tiny_config(tiny_data_dir, work, **{'train_cfg.max_epochs': 1}).dump(cfg_file)
    train_tool.main([cfg_file, '--amp'])
    assert train_tool.parse_args([cfg_file, '--auto-amp']).auto_amp
    ckpt = load_checkpoint_file(osp.join(work, 'pc_model_latest.pth'))
    assert ckpt['meta']['epoch'] == 1
    assert "type='BF16OptimWrapper'" in ckpt['meta']['cfg']
    # resume with --amp continues from epoch 1
    train_tool.main([cfg_file, '--amp', '--cfg-options', 'train_cfg.max_epochs=2'])
    assert load_checkpoint_file(osp.join(work, 'pc_model_latest.pth'))['meta']['epoch'] == 2


def test_amp_refuses_an_unknown_optim_wrapper_and_keeps_a_configured_one():
    cfg = Config(dict(optim_wrapper=dict(type='MyWrapper', optimizer=dict(type='SGD', lr=0.1))))
    with pytest.raises(SystemExit, match="config sets 'MyWrapper'"):
        train_tool.enable_amp(cfg)
    cfg = Config(dict(optim_wrapper=dict(type='BF16OptimWrapper', optimizer=dict(type='SGD', lr=0.1))))
    with pytest.warns(UserWarning, match='already trains with BF16OptimWrapper'):
        train_tool.enable_amp(cfg)
    assert cfg.optim_wrapper.type == 'BF16OptimWrapper'


def test_amp_warns_on_a_cpu_without_native_bf16(monkeypatch):
    if torch.cuda.is_available():
        pytest.skip('GPU path')
    monkeypatch.setattr(train_tool, 'cpu_has_native_bf16', lambda: False)
    cfg = Config(dict(optim_wrapper=dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1))))
    with pytest.warns(UserWarning, match='bfloat16 is emulated'):
        train_tool.enable_amp(cfg)
    assert cfg.optim_wrapper.type == 'BF16OptimWrapper'
