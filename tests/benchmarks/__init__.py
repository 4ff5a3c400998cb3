"""Tests of the benchmark generator and runner (benchmarks/)."""
