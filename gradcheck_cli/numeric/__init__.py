"""Numeric checking: numpy forward evaluation, finite differences, comparison."""
