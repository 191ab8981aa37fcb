"""The demo config as the benchmarks use it (it already has the probabilistic model switched on)."""

from __future__ import annotations


def probabilistic_demo_config(config: str) -> str:
    if "probabilistic:" not in config:
        raise ValueError("the demo config is expected to enable the probabilistic model")
    return config
