"""Declarations: service and component bases, descriptors, decorators, health checks."""
