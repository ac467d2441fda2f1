"""The floor of this stack for bench/floor_bench.py: a bare Django project, never part of the product."""
