"""The servicewire configuration as a typed model, validated once."""
