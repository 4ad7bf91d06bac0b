"""servicewire's built-in registry plugins: static, file and etcd."""
