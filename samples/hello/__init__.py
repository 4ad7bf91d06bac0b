"""The hello sample: an interface module, an implementation module and scripts."""
