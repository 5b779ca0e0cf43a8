"""Benchmarks for oneinbox_nb, run by `make bench` (`python -m benchmarks`), never by `make test`.

Every figure is a ratio against a baseline measured in the same run, on the same machine.
"""
