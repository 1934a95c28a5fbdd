"""Registry access (network): the one place hardener talks to the outside, and only to pin digests."""
