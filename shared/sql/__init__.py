"""SQL rendered by pure, dialect-aware functions from one view model; only endpoints execute it."""
