"""Benchmarks: our solver against its peers on real maps and on the Bus Evacuation Problem (see README.md)."""
