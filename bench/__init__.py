"""Benchmarks that print figures: chat load, dashboard history, widget size (docs/BENCHMARKS.md)."""
