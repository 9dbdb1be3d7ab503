"""Benchmark workloads: one file per family, each defining WORKLOADS (see benchmarks/harness.py)."""
