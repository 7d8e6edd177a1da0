"""Metrics: confusion matrix, top-k, mean class accuracy, cross-entropy, TAO table and report files."""
import csv
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from posecls.evaluation import (
    PoseAccMetric,
    classification_summary,
    confusion_matrix,
    cross_entropy,
    format_tao_table,
    topk_accuracy,
    write_evaluation_report,
)

LOGITS = np.array([[3., 1., 0.], [0., 2., 1.], [1., 0., 2.], [2., 3., 0.], [0., 1., 5.]], np.float32)
LABELS = np.array([0, 1, 1, 0, 2])  # predictions: 0, 1, 2, 1, 2


def test_confusion_matrix_rows_truth_columns_prediction():
    cm = confusion_matrix(LABELS, LOGITS.argmax(1), 3)
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 1, 1], [0, 0, 1]])


def test_topk_and_cross_entropy():
    assert topk_accuracy(LOGITS, LABELS, 1) == pytest.approx(3 / 5)
    assert topk_accuracy(LOGITS, LABELS, 2) == pytest.approx(4 / 5)  # sample 2: label 1 ranks last
    assert topk_accuracy(LOGITS, LABELS, 10) == 1.0  # k capped at the class count
    ref = F.cross_entropy(torch.tensor(LOGITS, dtype=torch.float64), torch.tensor(LABELS)).item()
    assert cross_entropy(LOGITS, LABELS) == pytest.approx(ref, rel=1e-12)


def test_summary_like_tao_and_absent_class():
    cm = np.array([[1, 1, 0], [0, 1, 1], [0, 0, 0]])
    s = classification_summary(cm, ['a', 'b', 'c'])
    assert s['per_class'] == {'a': 50.0, 'b': 50.0, 'c': None}
    assert s['total'] == pytest.approx(50.0)
    assert s['mean_class'] == pytest.approx(50.0)  # over classes with samples (TAO would give NaN)
    table = format_tao_table(s)
    assert 'Class accuracy: a' in table and '50.0000' in table and 'n/a (no samples)' in table
    assert 'Average class accuracy' in table and table.startswith('╒')


def run_metric(metric, logits, labels):
    metric.process({}, [dict(pred_logits=torch.tensor(lg), gt_label=torch.tensor(lb)) for lg, lb in
                        zip(logits, labels)])
    return metric.compute_metrics(metric.results)


def test_pose_acc_metric_values_and_keys():
    m = run_metric(PoseAccMetric(topk=(1, 2), with_confusion_matrix=True), LOGITS, LABELS)
    assert m['acc/top1'] == pytest.approx(0.6) and m['acc/top2'] == pytest.approx(0.8)
    assert m['acc/mean1'] == pytest.approx((0.5 + 0.5 + 1.0) / 3)
    assert m['loss'] == pytest.approx(cross_entropy(LOGITS, LABELS))
    assert m['confusion_matrix'] == [[1, 1, 0], [0, 1, 1], [0, 0, 1]]
    plain = run_metric(PoseAccMetric(), LOGITS, LABELS)
    assert 'confusion_matrix' not in plain and 'acc/top5' in plain


def test_pose_acc_metric_needs_labels():
    with pytest.raises(ValueError, match='no label'):
        run_metric(PoseAccMetric(), LOGITS[:2], [-1, -1])


def test_evaluation_report_files(tmp_path, capsys):
    m = run_metric(PoseAccMetric(topk=(1, 2), with_confusion_matrix=True), LOGITS, LABELS)
    rep = write_evaluation_report(m, ['sit', 'stand', 'walk'], str(tmp_path))
    out = capsys.readouterr().out
    assert 'Class accuracy: stand' in out and '60.0000' in out and 'Top-2 accuracy' in out
    rec = json.load(open(rep['paths']['json']))
    assert rec['total_accuracy'] == pytest.approx(60.0)
    assert rec['kpi'] == {'accuracy': 60.0, 'avg_accuracy': round(100 * 2 / 3, 2)}
    rows = list(csv.reader(open(rep['paths']['csv'])))
    assert rows[0] == ['class', 'sit', 'stand', 'walk'] and rows[2] == ['stand', '0', '1', '1']
    assert open(rep['paths']['png'], 'rb').read(8) == b'\x89PNG\r\n\x1a\n'
    with pytest.raises(ValueError, match='2 class names for a 3-class'):
        write_evaluation_report(m, ['a', 'b'], str(tmp_path))
