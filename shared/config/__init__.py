"""The unification config: sources, activities, match rules, merge policies, enrichments (data, validated)."""

from shared.config.load import load_config, load_config_text
from shared.config.model import UnificationConfig

__all__ = ["UnificationConfig", "load_config", "load_config_text"]
