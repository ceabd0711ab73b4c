"""Benchmarks of the studio's engines on synthetic clips whose alpha is known exactly."""
