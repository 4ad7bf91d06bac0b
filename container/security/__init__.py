"""Security: authentication and authorization as interceptors."""
