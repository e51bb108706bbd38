"""Benchmarks (`make bench`): each prints the project's figure, a baseline measured in the same run, the ratio."""
