"""Adapters for the two ports. Azure SDK imports stay inside the adapter modules that need them."""
