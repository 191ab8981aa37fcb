"""A seeded, realistic retail demo: four customer systems, orders and lines, and the ground truth."""

from c360_cli.demo.generator import DemoSpec, write_demo

__all__ = ["DemoSpec", "write_demo"]
