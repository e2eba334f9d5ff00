# Private to this repository's tests, demo and benchmarks.
"""A WS-Management peer that stands in for a fleet of Windows hosts (see README.md, COMMANDS.md)."""
