"""Implementations behind tools/*.py (importable so tests and the TAO CLI reuse them)."""
