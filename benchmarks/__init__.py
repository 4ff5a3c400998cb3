"""Benchmark suite: a seeded instance generator (`benchmarks.generate`) and a runner (`benchmarks.run`).

Not part of the installed package; run the modules from the repository root (`python -m benchmarks.run`).
"""
