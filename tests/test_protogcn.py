"""ProtoGCN: its units against their definitions, the prototype branch (training only), the contrastive loss and
its memory, the recognizer's loss, bf16, and training with the shared runner."""
import numpy as np
import pytest
import torch

from posecls.graphs import Graph
from posecls.models.utils import MSTCN
from posecls.models.utils.prototype_gcn import GlobalJointMSTCN, MotionTopologyGraphConv, PrototypeReconstruction
from posecls.registry import MODELS
from posecls.structures import PoseDataSample


def tiny_protogcn(num_classes: int = 4, layout: str = 'coco', **backbone):
    return MODELS.build(dict(
        type='ProtoGCNRecognizer',
        backbone=dict(type='ProtoGCN', graph_cfg=dict(layout=layout), base_channels=8, **backbone),
        cls_head=dict(type='ProtoGCNHead', num_classes=num_classes, in_channels=32,
                      num_nodes=Graph(layout).num_node)))


def samples(labels):
    out = []
    for y in labels:
        ds = PoseDataSample()
        ds.gt_label = torch.tensor(y)
        out.append(ds)
    return out


@pytest.mark.parametrize('impl', ['einsum', 'matmul'])
def test_motion_topology_graph_conv_is_the_defining_sum(impl):
    """y = post(sum_{k,c} pre[k,c] (A_k + alpha tanh(q_v - s_w) + beta softmax_v(q.s))), loop by loop."""
    torch.manual_seed(0)
    A = torch.rand(2, 5, 5)
    unit = MotionTopologyGraphConv(3, 16, A, ratio=0.25, impl=impl).eval()  # m = 4 channels per subset
    with torch.no_grad():
        unit.alpha.copy_(torch.tensor([0.7, -3.0]))  # only the first entry scales (as the reference)
        unit.beta.copy_(torch.tensor([0.4, 5.0]))
    x = torch.randn(2, 3, 6, 5)
    out, enhancement = unit(x)
    assert tuple(out.shape) == (2, 16, 6, 5) and tuple(enhancement.shape) == (2, 8, 5, 5)
    pre = unit.pre(x).view(2, 2, 4, 6, 5)
    q = unit.conv1(x).view(2, 2, 4, 6, 5).mean(3)
    s = unit.conv2(x).view(2, 2, 4, 6, 5).mean(3)
    agg = torch.zeros(2, 2, 4, 6, 5)
    ref_enh = torch.zeros(2, 2, 4, 5, 5)
    for n in range(2):
        for k in range(2):
            corr = torch.softmax(q[n, k].t() @ s[n, k], dim=0)  # (V, W), normalised over the source joint
            for c in range(4):
                inter = torch.tanh(q[n, k, c][:, None] - s[n, k, c][None, :])
                ref_enh[n, k, c] = 0.7 * inter + 0.4 * corr
                agg[n, k, c] = pre[n, k, c] @ (A[k] + ref_enh[n, k, c])
    ref = torch.relu(unit.bn(unit.post(agg.reshape(2, 8, 6, 5))) + unit.down(x))
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(enhancement, ref_enh.reshape(2, 8, 5, 5), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match='leaves no channel per subset'):
        MotionTopologyGraphConv(3, 4, A, ratio=0.125)


def test_global_joint_mstcn_adds_the_mean_joint_per_joint():
    torch.manual_seed(0)
    tcn = GlobalJointMSTCN(12, 12, num_joints=5, stride=2).eval()
    plain = MSTCN(12, 12, stride=2).eval()
    plain.load_state_dict({k: v for k, v in tcn.state_dict().items() if k != 'add_coeff'})
    x = torch.randn(2, 12, 9, 5)
    torch.testing.assert_close(tcn(x), plain(x))  # add_coeff starts at 0: the joints alone (columns independent)
    with torch.no_grad():
        tcn.add_coeff.copy_(torch.arange(5.0))
    xg = torch.cat([x, x.mean(-1, keepdim=True)], -1)
    out = torch.cat([b(xg) for b in tcn.branches], 1)
    ref = tcn.bn(tcn.transform(out[..., :5] + out[..., 5:] * torch.arange(5.0)))
    torch.testing.assert_close(tcn(x), ref)
    assert tuple(ref.shape) == (2, 12, 5, 5)
    with pytest.raises(ValueError, match='built for 5 joints, got V=4'):
        tcn(x[..., :4])


def test_prototype_reconstruction_mixes_the_memory_columns():
    prn = PrototypeReconstruction(6, num_prototypes=3, dropout=0.0)
    x = torch.randn(4, 7, 6)
    weights = torch.softmax(x @ prn.query.weight.t(), -1)
    torch.testing.assert_close(prn(x), weights @ prn.memory.weight.t())
    assert sum(p.numel() for p in prn.parameters()) == 2 * 6 * 3  # no biases
    with pytest.raises(ValueError, match='num_prototypes must be >= 1'):
        PrototypeReconstruction(6, num_prototypes=0)


def test_backbone_shapes_topology_and_the_training_only_branch():
    torch.manual_seed(0)
    model = tiny_protogcn()
    backbone = model.backbone
    x = torch.randn(3, 3, 20, 17, 2)
    feats = backbone(x)
    assert tuple(feats.shape) == (3, 2, 32, 5, 17)  # T 20 -> 10 -> 5, channels 8 -> 16 -> 32
    backbone.eval()
    with torch.no_grad():
        same, rec = backbone.forward_with_reconstruction(x)
        torch.testing.assert_close(same, backbone(x))
    assert tuple(rec.shape) == (3, 17 * 17) and backbone.reconstruction_size == 289
    assert len(backbone.blocks) == 10 and backbone.out_channels == 32
    A0 = backbone.gcn[0].gcn.A.detach()
    assert tuple(A0.shape) == (8, 17, 17) and abs(float(A0.mean()) - 0.04) < 0.005
    assert abs(float(A0.std()) - 0.02) < 0.005
    assert all(torch.equal(b.gcn.A.detach(), A0) for b in backbone.gcn)  # one draw, cloned into every block
    graph = MODELS.build(dict(type='ProtoGCN', graph_cfg=dict(layout='coco'), base_channels=8, topology='graph'))
    torch.testing.assert_close(graph.gcn[3].gcn.A.detach(), torch.tensor(Graph('coco', 'spatial').A))
    with pytest.raises(ValueError, match="topology must be one of"):
        MODELS.build(dict(type='ProtoGCN', graph_cfg=dict(layout='coco'), topology='skeleton'))
    with pytest.raises(ValueError, match="ProtoGCN: input has V=18 joints but graph layout 'coco' has 17"):
        backbone(torch.randn(1, 3, 8, 18, 1))


def test_contrastive_loss_memory_moves_only_for_correctly_classified_classes():
    from posecls.models.heads import ClassSpecificContrastiveLoss
    torch.manual_seed(0)
    loss = ClassSpecificContrastiveLoss(num_classes=3, in_features=4, channels=5, momentum=0.9)
    assert 'memory' not in loss.state_dict()  # as the reference: a checkpoint does not carry it
    before = loss.memory.clone()
    rec = torch.randn(4, 4)
    labels = torch.tensor([0, 0, 1, 2])
    logits = torch.tensor([[5., 0, 0], [5., 0, 0], [5., 0, 0], [0, 0, 5.]])  # sample 2 (class 1) is wrong
    value = loss(rec, labels, logits)
    f = loss.proj(rec).detach()
    torch.testing.assert_close(loss.memory[:, 0], 0.9 * before[:, 0] + 0.1 * f[:2].mean(0))
    torch.testing.assert_close(loss.memory[:, 1], before[:, 1])  # no correct prediction of class 1
    torch.testing.assert_close(loss.memory[:, 2], 0.9 * before[:, 2] + 0.1 * f[3])
    fn = f / f.norm(dim=1, keepdim=True)
    mn = loss.memory / loss.memory.norm(dim=0, keepdim=True)
    torch.testing.assert_close(value, torch.nn.functional.cross_entropy(fn @ mn / 0.125, labels))
    loss.eval()
    frozen = loss.memory.clone()
    loss(rec, labels, logits)
    assert torch.equal(loss.memory, frozen)
    with pytest.raises(ValueError, match='momentum must be in'):
        ClassSpecificContrastiveLoss(3, 4, momentum=1.5)


def test_recognizer_loss_adds_the_prototype_term_and_reaches_every_branch():
    torch.manual_seed(0)
    model = tiny_protogcn()
    with torch.no_grad():  # past initialisation: non-zero enhancement graphs, as after a few steps
        for block in model.backbone.gcn:
            block.gcn.alpha.fill_(0.5)
            block.gcn.beta.fill_(0.5)
    x = torch.randn(4, 3, 16, 17, 1)
    losses = model(x, samples([0, 1, 2, 3]), mode='loss')
    assert set(losses) == {'loss_cls', 'top1_acc', 'loss_proto'}
    (losses['loss_cls'] + losses['loss_proto']).backward()
    for name in ('backbone.prn.query.weight', 'backbone.prn.memory.weight', 'backbone.post.0.weight',
                 'cls_head.loss_proto.proj.weight', 'backbone.gcn.9.gcn.alpha', 'backbone.gcn.0.gcn.A'):
        grad = dict(model.named_parameters())[name].grad
        assert grad is not None and float(grad.abs().sum()) > 0, name
    clips = model(torch.randn(2, 3, 3, 16, 17, 1), samples([0, 1]), mode='loss')  # (N, clips, ...): 6 samples
    assert torch.isfinite(clips['loss_proto'])
    plain = MODELS.build(dict(type='SkeletonRecognizer', backbone=dict(type='ProtoGCN', graph_cfg=dict(layout='coco'),
                                                                        base_channels=8),
                              cls_head=dict(type='ProtoGCNHead', num_classes=4, in_channels=32, num_nodes=17)))
    assert set(plain(x, samples([0, 1, 2, 3]), mode='loss')) == {'loss_cls', 'top1_acc'}  # no reconstruction
    with pytest.raises(ValueError, match='needs a head whose loss takes reconstruction.*GCNHead'):
        MODELS.build(dict(type='ProtoGCNRecognizer', backbone=dict(type='ProtoGCN', graph_cfg=dict(layout='coco'),
                                                                   base_channels=8),
                          cls_head=dict(type='GCNHead', num_classes=4, in_channels=32)))
    with pytest.raises(ValueError, match='needs a backbone with forward_with_reconstruction.*STGCNPP'):
        MODELS.build(dict(type='ProtoGCNRecognizer', backbone=dict(type='STGCNPP', graph_cfg=dict(layout='coco'),
                                                                   base_channels=8),
                          cls_head=dict(type='ProtoGCNHead', num_classes=4, in_channels=32, num_nodes=17)))
    with pytest.raises(ValueError, match=r'num_nodes=25\) expects a reconstruction \(N, 625\), got \(4, 289\)'):
        model.cls_head.num_nodes = 25
        model(x, samples([0, 1, 2, 3]), mode='loss')


def test_bf16_autocast_training_step_is_finite():
    torch.manual_seed(0)
    model = tiny_protogcn()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        losses = model(torch.randn(4, 3, 16, 17, 1), samples([0, 1, 2, 3]), mode='loss')
    assert losses['loss_proto'].dtype == torch.float32 and torch.isfinite(losses['loss_proto'])
    (losses['loss_cls'] + losses['loss_proto']).backward()
    assert model.cls_head.loss_proto.memory.dtype == torch.float32


@pytest.mark.slow
def test_trains_with_the_shared_runner(tiny_cfg):
    from posecls.tools.common import build_runner
    tiny_cfg.model = dict(type='ProtoGCNRecognizer',
                          backbone=dict(type='ProtoGCN', graph_cfg=dict(layout='nvidia'), base_channels=8),
                          cls_head=dict(type='ProtoGCNHead', num_classes=6, in_channels=32, num_nodes=34),
                          data_preprocessor=dict(type='SkeletonDataPreprocessor'))
    runner = build_runner(tiny_cfg)
    before = {k: v.clone() for k, v in runner.model.state_dict().items()}
    runner.train()
    after = runner.model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert {'backbone.prn.memory.weight', 'cls_head.loss_proto.proj.weight', 'cls_head.fcn.weight'} <= changed
    metrics = runner.val()
    assert np.isfinite(metrics['loss']) and 0 <= metrics['acc/top1'] <= 1
