"""The architecture registry."""
