"""docs/results.md stays reproducible: every config it names exists, every table row names its config, epochs
and a wall time, and the epochs and overrides it states match the configs."""
import os.path as osp
import re

import pytest
from mmengine.config import Config

from conftest import REPO

DOC = osp.join(REPO, 'docs', 'results.md')


def doc_text() -> str:
    with open(DOC, encoding='utf-8') as f:
        return f.read()


def result_rows() -> list:
    """Table rows that report a trained model: (config, epochs, wall time) cells."""
    rows = []
    for line in doc_text().splitlines():
        m = re.match(r'\| [^|]+ \| [^|]+ \| `(configs/[^`]+\.py)`[^|]* \| (\d+) \| ([^|]+) \|', line)
        if m:
            rows.append((m.group(1), int(m.group(2)), m.group(3).strip()))
    return rows


def test_every_config_named_in_results_exists():
    paths = set(re.findall(r'configs/[\w/]+\.py', doc_text()))
    assert paths, 'docs/results.md names no config'
    missing = sorted(p for p in paths if not osp.isfile(osp.join(REPO, p)))
    assert not missing, f'docs/results.md names configs that do not exist: {missing}'


def test_there_are_rows_for_both_datasets():
    cfgs = [r[0] for r in result_rows()]
    assert any(c.startswith('configs/nwucla/') for c in cfgs)
    assert any(c.startswith('configs/msr_action3d/') for c in cfgs)


@pytest.mark.parametrize('row', result_rows(), ids=lambda r: f'{r[0]}:{r[1]}')
def test_row_epochs_match_the_config(row):
    path, epochs, wall = row
    cfg = Config.fromfile(osp.join(REPO, path))
    assert cfg.train_cfg.max_epochs == epochs, (path, cfg.train_cfg.max_epochs, epochs)
    assert re.search(r'\d', wall) or wall == '—', f'{path}: no wall time in its row'


def test_multi_clip_override_targets_uniform_sample():
    """The 10-clip test command's --cfg-options index must point at UniformSample in the test pipeline."""
    overrides = re.findall(r'(configs/[\w/]+\.py) \S+ \\\n.*\\\n\s+--cfg-options test_dataloader\.dataset\.pipeline\.'
                           r'(\d+)\.num_clips=(\d+)', doc_text())
    assert overrides, 'the multi-clip command is missing from docs/results.md'
    for path, index, clips in overrides:
        pipeline = Config.fromfile(osp.join(REPO, path)).test_dataloader.dataset.pipeline
        assert pipeline[int(index)]['type'] == 'UniformSample', (path, pipeline[int(index)])
        assert int(clips) > 1
