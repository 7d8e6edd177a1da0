"""PoseDataset: mmap loading, label files, validation errors that name the file and field."""
import json
import os
import pickle

import numpy as np
import pytest
import torch

from posecls.datasets import LabelFileError, PoseDataset, PoseSampler, load_label_file, save_label_file

LABEL_MAP = {'a': 0, 'b': 1, 'c': 2}


def write(tmp_path, data, names=None, labels=None, protocol=4):
    dp = str(tmp_path / 'data.npy')
    np.save(dp, data)
    if labels is None:
        return dp, None
    lp = str(tmp_path / 'label.pkl')
    with open(lp, 'wb') as f:
        pickle.dump([names if names is not None else [f's{i}' for i in range(len(labels))], labels], f,
                    protocol=protocol)
    return dp, lp


@pytest.fixture
def good(tmp_path):
    data = np.random.default_rng(0).normal(size=(5, 3, 8, 4, 1)).astype(np.float32)
    return write(tmp_path, data, labels=[0, 1, 2, 1, 0])


def test_loads_items_with_mmap_and_metainfo(good):
    dp, lp = good
    ds = PoseDataset(dp, lp, label_map=LABEL_MAP, pipeline=[dict(type='PackPoseInputs')])
    assert len(ds) == 5
    assert isinstance(ds.data, np.memmap)  # memory-mapped, not read into RAM
    item = ds[3]
    assert item['inputs'].dtype == torch.float32 and tuple(item['inputs'].shape) == (3, 8, 4, 1)
    assert int(item['data_samples'].gt_label) == 1
    assert item['data_samples'].sample_name == 's3' and item['data_samples'].sample_idx == 3
    np.testing.assert_array_equal(item['inputs'].numpy(), np.load(dp)[3])
    assert ds.metainfo['classes'] == ('a', 'b', 'c')
    # picklable for DataLoader workers without carrying the array
    clone = pickle.loads(pickle.dumps(ds))
    assert clone._data is None and torch.equal(clone[3]['inputs'], item['inputs'])
    in_ram = PoseDataset(dp, lp, label_map=LABEL_MAP, mmap=False)
    assert not isinstance(in_ram.data, np.memmap)


def test_label_map_from_json_file_and_inference_without_labels(good, tmp_path):
    dp, _ = good
    jp = str(tmp_path / 'label_map.json')
    json.dump(LABEL_MAP, open(jp, 'w'))
    ds = PoseDataset(dp, label_map=jp, pipeline=[dict(type='PackPoseInputs')])
    assert ds.num_classes == 3 and ds.labels == [-1] * 5
    assert int(ds[0]['data_samples'].gt_label) == -1


def test_num_classes_inferred_without_label_map(good):
    dp, lp = good
    ds = PoseDataset(dp, lp)
    assert ds.num_classes == 3 and ds.classes == ['0', '1', '2']


@pytest.mark.parametrize('shape,msg', [((5, 3, 8, 4), '5-D array'), ((0, 3, 8, 4, 1), 'N=0')])
def test_bad_array_shapes(tmp_path, shape, msg):
    dp, _ = write(tmp_path, np.zeros(shape, np.float32))
    with pytest.raises(ValueError, match=f'data file {dp}: .*{msg}'):
        PoseDataset(dp)


def test_integer_array_rejected(tmp_path):
    dp, _ = write(tmp_path, np.zeros((2, 3, 4, 5, 1), np.int32))
    with pytest.raises(ValueError, match='float array'):
        PoseDataset(dp)


def test_non_finite_value_reports_location(tmp_path):
    data = np.zeros((4, 3, 6, 5, 1), np.float32)
    data[2, 1, 3, 4, 0] = np.nan
    dp, _ = write(tmp_path, data)
    with pytest.raises(ValueError, match=r'non-finite value nan at sample 2 \(c=1, t=3, v=4, m=0\)'):
        PoseDataset(dp)


def test_joint_and_channel_mismatch(good):
    dp, lp = good
    with pytest.raises(ValueError, match="V=4 joints .* graph layout has 34"):
        PoseDataset(dp, lp, num_joints=34)
    with pytest.raises(ValueError, match='C=3 channels .* in_channels=2'):
        PoseDataset(dp, lp, num_channels=2)


def test_count_mismatch_between_npy_and_pkl(tmp_path):
    dp, lp = write(tmp_path, np.zeros((3, 3, 4, 5, 1), np.float32), labels=[0, 1])
    with pytest.raises(ValueError, match=f'label file {lp} has 2 labels but data file {dp} has N=3'):
        PoseDataset(dp, lp)


def test_labels_outside_num_classes(tmp_path):
    dp, lp = write(tmp_path, np.zeros((3, 3, 4, 5, 1), np.float32), labels=[0, 1, 3])
    with pytest.raises(ValueError, match=r'labels\[2\] = 3 is outside \[0, 3\)'):
        PoseDataset(dp, lp, label_map=LABEL_MAP)
    with pytest.raises(ValueError, match='outside'):
        PoseDataset(dp, lp, num_classes=2)


def test_label_map_and_num_classes_disagree(good):
    dp, lp = good
    with pytest.raises(ValueError, match='num_classes=4 disagrees with label_map, which has 3 classes'):
        PoseDataset(dp, lp, label_map=LABEL_MAP, num_classes=4)
    with pytest.raises(ValueError, match='ids must be 0..2'):
        PoseDataset(dp, lp, label_map={'a': 0, 'b': 2, 'c': 3})


def test_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match='data file not found'):
        PoseDataset(str(tmp_path / 'nope.npy'))
    dp, _ = write(tmp_path, np.zeros((1, 3, 4, 5, 1), np.float32))
    with pytest.raises(FileNotFoundError, match='label file not found'):
        PoseDataset(dp, str(tmp_path / 'nope.pkl'))


class _Evil:

    def __reduce__(self):
        return (os.system, ('touch /tmp/posecls_label_pwned',))


def test_label_pickle_that_imports_is_refused_not_executed(tmp_path):
    marker = '/tmp/posecls_label_pwned'
    if os.path.exists(marker):
        os.unlink(marker)
    lp = str(tmp_path / 'evil.pkl')
    with open(lp, 'wb') as f:
        pickle.dump([['a'], [_Evil()]], f)
    with pytest.raises(LabelFileError, match=r'refusing to unpickle a reference to (posix|os)\.system'):
        load_label_file(lp)
    assert not os.path.exists(marker)


def test_numpy_labels_refused_with_fix(tmp_path):
    lp = str(tmp_path / 'np.pkl')
    with open(lp, 'wb') as f:
        pickle.dump([['a', 'b'], list(np.array([0, 1]))], f)  # numpy int64 scalars
    with pytest.raises(LabelFileError, match='plain Python values'):
        load_label_file(lp)


@pytest.mark.parametrize('payload,msg', [
    ({'names': []}, '2-element sequence'),
    ([['a'], [0, 1]], '1 sample names but 2 labels'),
    ([['a', 3], [0, 1]], r'sample_names\[1\] is int'),
    ([['a', 'b'], [0, 1.5]], r'labels\[1\] = 1.5 is float'),
    ([['a'], [True]], r'labels\[0\] = True is bool'),
])
def test_malformed_label_files(tmp_path, payload, msg):
    lp = str(tmp_path / 'l.pkl')
    with open(lp, 'wb') as f:
        pickle.dump(payload, f)
    with pytest.raises(LabelFileError, match=msg):
        load_label_file(lp)


def test_label_file_round_trip_accepts_tao_tuple_protocol4(tmp_path):
    lp = str(tmp_path / 'tao.pkl')
    with open(lp, 'wb') as f:
        pickle.dump((['x.json', 'y.json'], [235, 388]), f, protocol=4)  # TAO tutorial form
    assert load_label_file(lp) == (['x.json', 'y.json'], [235, 388])
    out = str(tmp_path / 'ours.pkl')
    save_label_file(out, ['x'], [np.int64(3)])
    assert load_label_file(out) == (['x'], [3])


def test_sampler_seeds_differ_per_epoch_and_repeat_across_runs(good):
    dp, lp = good
    ds = PoseDataset(dp, lp, pipeline=[dict(type='RandomMove'), dict(type='PackPoseInputs')])
    sampler = PoseSampler(ds, shuffle=True, seed=7)
    first = list(sampler)
    assert all(isinstance(i, tuple) and i[1:] == (7, 0) for i in first)
    sampler.set_epoch(1)
    second = list(sampler)
    assert sorted(i[0] for i in first) == sorted(i[0] for i in second) == list(range(5))
    a = ds[first[0]]['inputs']
    assert torch.equal(a, ds[first[0]]['inputs'])  # same (idx, seed, epoch) -> same augmentation
    idx = first[0][0]
    assert not torch.equal(a, ds[(idx, 7, 1)]['inputs'])  # another epoch -> another augmentation
