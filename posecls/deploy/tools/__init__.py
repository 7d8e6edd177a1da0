"""Implementations behind tools/deployment/*.py (``main(argv=None)`` each, callable in-process)."""
