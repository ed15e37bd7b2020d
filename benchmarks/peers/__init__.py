"""Peer planners for the benchmark: a greedy dispatcher and VROOM."""
