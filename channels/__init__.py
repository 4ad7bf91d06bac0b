"""servicewire's built-in channel plugins: ``local`` (in process) and the HTTP channels."""
