"""Opsroom: live monitoring for the operations room of a large event."""

__version__ = "0.1.0"
