"""Proving behaviour-changing fixes on real containers: start the stack before and after, keep what still works.

`core` decides (which fixes to try, what counts as still working, which to drop) and does no I/O;
`docker` is the edge that runs Docker Compose against a daemon.
"""
