"""Soak and stress scenarios (baseline, connection flood, message bombing, idle sessions), run from the CLI."""
