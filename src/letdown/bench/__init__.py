"""Benchmarks and the twin's calibration, behind ``letdown bench`` and ``letdown twin``."""
