"""The wire: the codec (arguments and results to bytes and back), no I/O."""
