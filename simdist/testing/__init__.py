"""Hypothesis strategies and state machines for property-testing launches."""
