"""Activity functions: thin Durable adapters, one per step in ``shared.steps``."""

from activities.functions import bp

__all__ = ["bp"]
