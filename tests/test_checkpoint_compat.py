"""Loading original ST-GCN / TAO Lightning / posecls weights reproduces the reference network's logits.

``ReferenceSTGCN`` below is written from the documented original structure
(docs/reference.md §3; yysijie/st-gcn net/st_gcn.py) independently of posecls's
modules: same key names, original forward (avg_pool2d, person mean, fcn conv).
"""
import os
import pickle

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from posecls.graphs import Graph
from posecls.registry import MODELS
from posecls.utils.checkpoint import CheckpointError, load_checkpoint_file, load_weights


class RefGraphConv(nn.Module):

    def __init__(self, cin, cout, k):
        super().__init__()
        self.kernel_size = k
        self.conv = nn.Conv2d(cin, cout * k, kernel_size=(1, 1))

    def forward(self, x, A):
        x = self.conv(x)
        n, kc, t, v = x.size()
        x = x.view(n, self.kernel_size, kc // self.kernel_size, t, v)
        return torch.einsum('nkctv,kvw->nctw', (x, A)).contiguous(), A


class RefBlock(nn.Module):

    def __init__(self, cin, cout, kernel_size, stride=1, dropout=0.0, residual=True):
        super().__init__()
        padding = ((kernel_size[0] - 1) // 2, 0)
        self.gcn = RefGraphConv(cin, cout, kernel_size[1])
        self.tcn = nn.Sequential(nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                                 nn.Conv2d(cout, cout, (kernel_size[0], 1), (stride, 1), padding),
                                 nn.BatchNorm2d(cout), nn.Dropout(dropout, inplace=True))
        if not residual:
            self.residual = lambda x: 0
        elif cin == cout and stride == 1:
            self.residual = lambda x: x
        else:
            self.residual = nn.Sequential(nn.Conv2d(cin, cout, kernel_size=1, stride=(stride, 1)),
                                          nn.BatchNorm2d(cout))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x, A):
        res = self.residual(x)
        x, A = self.gcn(x, A)
        return self.relu(self.tcn(x) + res), A


class ReferenceSTGCN(nn.Module):
    """The original ST-GCN ``Model`` (in_channels, num_class, graph, edge_importance_weighting)."""

    def __init__(self, in_channels, num_class, layout, strategy, dropout=0.5):
        super().__init__()
        A = torch.tensor(Graph(layout, strategy).A, dtype=torch.float32, requires_grad=False)
        self.register_buffer('A', A)
        ks = (9, A.size(0))
        self.data_bn = nn.BatchNorm1d(in_channels * A.size(1))
        self.st_gcn_networks = nn.ModuleList((
            RefBlock(in_channels, 64, ks, 1, residual=False),
            RefBlock(64, 64, ks, 1, dropout), RefBlock(64, 64, ks, 1, dropout), RefBlock(64, 64, ks, 1, dropout),
            RefBlock(64, 128, ks, 2, dropout), RefBlock(128, 128, ks, 1, dropout),
            RefBlock(128, 128, ks, 1, dropout), RefBlock(128, 256, ks, 2, dropout),
            RefBlock(256, 256, ks, 1, dropout), RefBlock(256, 256, ks, 1, dropout)))
        self.edge_importance = nn.ParameterList([nn.Parameter(torch.ones(self.A.size())) for _ in range(10)])
        self.fcn = nn.Conv2d(256, num_class, kernel_size=1)

    def forward(self, x):
        N, C, T, V, M = x.size()
        x = x.permute(0, 4, 3, 1, 2).contiguous().view(N * M, V * C, T)
        x = self.data_bn(x)
        x = x.view(N, M, V, C, T).permute(0, 1, 3, 4, 2).contiguous().view(N * M, C, T, V)
        for gcn, importance in zip(self.st_gcn_networks, self.edge_importance):
            x, _ = gcn(x, self.A * importance)
        x = F.avg_pool2d(x, x.size()[2:])
        x = x.view(N, M, -1, 1, 1).mean(dim=1)
        x = self.fcn(x)
        return x.view(x.size(0), -1)


def randomize(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial weights, BN statistics and edge importances (so a wrong mapping shows)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.endswith('A') or name.endswith('num_batches_tracked'):
                continue
            if name.endswith('running_var'):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            elif 'edge_importance' in name:
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            else:
                t.copy_(torch.randn(t.shape, generator=g) * 0.1)
    return model.eval()


def posecls_model(layout='nvidia', num_classes=6, in_channels=3):
    return MODELS.build(dict(
        type='SkeletonRecognizer',
        backbone=dict(type='STGCN', in_channels=in_channels, graph_cfg=dict(layout=layout, strategy='spatial')),
        cls_head=dict(type='GCNHead', num_classes=num_classes))).eval()


@pytest.fixture(scope='module')
def reference():
    torch.manual_seed(0)
    return randomize(ReferenceSTGCN(3, 6, 'nvidia', 'spatial'))


@pytest.fixture(scope='module')
def inputs():
    return torch.randn(2, 3, 64, 34, 2, generator=torch.Generator().manual_seed(1))


def test_original_bare_state_dict_reproduces_logits(reference, inputs, tmp_path):
    path = str(tmp_path / 'st_gcn.nvidia.pt')
    torch.save(reference.state_dict(), path)
    model = posecls_model()
    report = load_weights(model, path)
    assert report['format'] == 'original' and not report['missing'] and not report['unexpected']
    with torch.no_grad():
        torch.testing.assert_close(model(inputs), reference(inputs), rtol=1e-5, atol=1e-5)


def test_tao_lightning_checkpoint_reproduces_logits(reference, inputs, tmp_path):
    path = str(tmp_path / 'model_epoch_004_step_01234.pth')
    ckpt = {'epoch': 4, 'global_step': 1234, 'pytorch-lightning_version': '2.1.0',
            'state_dict': {f'model.{k}': v for k, v in reference.state_dict().items()},
            'optimizer_states': [], 'lr_schedulers': [], 'loops': {}, 'callbacks': {}}
    torch.save(ckpt, path)
    model = posecls_model()
    assert load_weights(model, path)['format'] == 'tao_lightning'
    with torch.no_grad():
        torch.testing.assert_close(model(inputs), reference(inputs), rtol=1e-5, atol=1e-5)


def test_openpose_original_kinetics_shape_loads(tmp_path):
    ref = randomize(ReferenceSTGCN(3, 400, 'openpose', 'spatial'), seed=3)
    path = str(tmp_path / 'st_gcn.kinetics.pt')
    torch.save(ref.state_dict(), path)
    model = posecls_model('openpose', 400)
    load_weights(model, path)
    x = torch.randn(1, 3, 40, 18, 2)
    with torch.no_grad():
        torch.testing.assert_close(model(x), ref(x), rtol=1e-5, atol=1e-5)


def test_other_class_count_reinitialises_only_the_head(reference, tmp_path, caplog):
    path = str(tmp_path / 'six.pt')
    torch.save(reference.state_dict(), path)
    model = posecls_model(num_classes=4)
    fresh_head = model.cls_head.fcn.weight.detach().clone()
    report = load_weights(model, path)
    assert report['reinitialized'] == ['cls_head.fcn.weight', 'cls_head.fcn.bias']
    torch.testing.assert_close(model.cls_head.fcn.weight, fresh_head)
    torch.testing.assert_close(model.backbone.st_gcn_networks[3].tcn[2].weight,
                               reference.st_gcn_networks[3].tcn[2].weight)
    with pytest.raises(CheckpointError, match='was trained for 6 classes but the config has 4'):
        load_weights(posecls_model(num_classes=4), path, reinit_head=False)


def test_wrong_layout_is_a_clear_error(reference, tmp_path):
    path = str(tmp_path / 'nvidia.pt')
    torch.save(reference.state_dict(), path)
    with pytest.raises(CheckpointError, match=r'backbone\.A: checkpoint \(3, 34, 34\) vs model \(3, 18, 18\)'):
        load_weights(posecls_model('openpose'), path)


def test_posecls_checkpoint_round_trip(tmp_path):
    model = randomize(posecls_model(), seed=5)
    path = str(tmp_path / 'p.pth')
    torch.save({'meta': {'epoch': 1}, 'state_dict': model.state_dict()}, path)
    other = posecls_model()
    assert load_weights(other, path)['format'] == 'posecls'
    x = torch.randn(1, 3, 20, 34, 1)
    with torch.no_grad():
        torch.testing.assert_close(other(x), model(x))


def test_tao_encrypted_checkpoint_is_refused_with_instructions(tmp_path):
    path = str(tmp_path / 'encrypted.pth')
    torch.save({'state_dict': b'\x00opaque eff stream', 'state_dict_encrypted': 'eff_v1', 'epoch': 3}, path)
    with pytest.raises(CheckpointError, match='encryption_key: null'):
        load_weights(posecls_model(), path)


class _Evil:

    def __reduce__(self):
        return (os.system, ('touch /tmp/posecls_pwned_marker',))


@pytest.mark.filterwarnings('ignore:Detected pickle protocol')
def test_checkpoint_that_runs_code_is_refused_and_not_executed(tmp_path):
    marker = '/tmp/posecls_pwned_marker'
    if os.path.exists(marker):
        os.unlink(marker)
    path = str(tmp_path / 'evil.pth')
    with open(path, 'wb') as f:  # a plain pickle of an object whose unpickling runs a command
        pickle.dump({'state_dict': {}, 'x': _Evil()}, f)
    with pytest.raises(CheckpointError, match='system'):
        load_checkpoint_file(path)
    assert not os.path.exists(marker)


def test_missing_and_truncated_files(tmp_path):
    with pytest.raises(FileNotFoundError, match='checkpoint not found'):
        load_checkpoint_file(str(tmp_path / 'nope.pth'))
    good = str(tmp_path / 'good.pth')
    torch.save({'state_dict': {'fcn.weight': torch.zeros(1)}}, good)
    data = open(good, 'rb').read()
    bad = str(tmp_path / 'bad.pth')
    open(bad, 'wb').write(data[:len(data) // 2])
    with pytest.raises(CheckpointError, match='complete'):
        load_checkpoint_file(bad)
