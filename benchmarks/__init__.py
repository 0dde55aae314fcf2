"""aopctl's benchmark harness: request counts, wall time, CPU and memory at several scales.

Run from the repository root: `python -m benchmarks.run --help` (see benchmarks/README.md).
"""
