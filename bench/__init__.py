"""Load and burst benchmarks of the webhook path: `make bench` writes bench/BENCHMARKS.md."""
