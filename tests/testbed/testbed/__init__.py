# The fleetfix.remediate testbed: simulated vCenter, WinRM and DNS servers on loopback.
# Private to this repository's tests, demo and benchmarks; not part of the collection's API.
"""Start, stop and describe the simulated servers the tests, demo and benchmarks use."""
