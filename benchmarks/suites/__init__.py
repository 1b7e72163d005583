"""One module per suite of `python -m benchmarks`: NAME and run(settings) -> Suite."""
