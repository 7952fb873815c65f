"""Benchmarks: train-step throughput next to PyTorch, input pipeline."""
