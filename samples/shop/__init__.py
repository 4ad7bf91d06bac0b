"""The shop sample: a client calls orders, which calls inventory; each service its own process."""
