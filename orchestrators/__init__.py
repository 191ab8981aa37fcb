"""The orchestrator (control flow) and the starter (client) functions."""

from orchestrators.starters import bp as starters
from orchestrators.unify_customers import bp as orchestrator

__all__ = ["orchestrator", "starters"]
