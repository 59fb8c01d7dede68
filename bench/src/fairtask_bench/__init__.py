"""The dispatcher's real-stack benchmark (`make bench`) and its baselines.

Nothing here runs at import time; `python -m fairtask_bench` runs the benchmark.
"""
