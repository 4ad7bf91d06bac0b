"""Values and errors: the exception hierarchy, value types, objects named by import path."""
