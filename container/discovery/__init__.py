"""Discovery: the component-registry contract and watch lists."""
