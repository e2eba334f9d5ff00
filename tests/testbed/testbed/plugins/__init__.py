# Private to this repository's tests. Each module here defines PLUGIN, one kind of simulated server.
