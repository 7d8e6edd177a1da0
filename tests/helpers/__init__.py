"""Test helpers importable by training subprocesses (tests/ is put on their PYTHONPATH)."""
