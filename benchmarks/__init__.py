"""Benchmarks: this project against its peers on the same inputs, in the same run."""
