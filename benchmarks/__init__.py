"""pbnn's benchmark suite: ``make bench`` (all) or ``python -m benchmarks.run NAME ...``; see ``run.py``."""
