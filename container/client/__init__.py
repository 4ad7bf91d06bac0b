"""The client side of the pipeline: the Channel behind every proxy, and the first contract's adapter."""
