"""The lint config (ruff.toml: pycodestyle, pyflakes, isort, 120 columns) holds for the whole repository."""
import shutil
import subprocess
import sys

from conftest import REPO


def test_ruff_finds_nothing():
    ruff = shutil.which('ruff')
    cmd = [ruff] if ruff else [sys.executable, '-m', 'ruff']
    res = subprocess.run(cmd + ['check', '--no-cache', '.'], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
