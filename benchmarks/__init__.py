"""tinygrad_nv's benchmark suite: `python -m benchmarks --help`."""
