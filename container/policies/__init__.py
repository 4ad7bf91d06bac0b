"""Policies: URL selection, which URLs a channel accepts, channel events, the channel."""
