"""Evaluation: score backends against gold fixtures; generate a robustness corpus; benchmarks."""
