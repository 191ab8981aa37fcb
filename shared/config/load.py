"""Load and validate ``c360.yaml``; errors name the file, the key path, the line and what was expected."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from shared.config.checks import reference_errors
from shared.config.model import UnificationConfig
from shared.errors import ConfigError


def _key_path(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif str(part).startswith(("function-", "literal[", "list[", "int", "str")) or "[" in str(part):
            continue  # pydantic's union-branch labels are not keys
        else:
            path += ("." if path else "") + str(part)
    return path or "(top level)"


def _line_of(root: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """The YAML line where the deepest existing node of ``loc`` starts (1-based)."""
    node, line = root, None
    for part in loc:
        if node is None:
            break
        line = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == str(part)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            node = None
    if node is not None:
        line = node.start_mark.line + 1
    return line


def load_config_text(text: str, source: str = "<config>") -> UnificationConfig:
    """Parse YAML text into a validated config, or raise ``ConfigError`` listing every problem."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        config = UnificationConfig.model_validate(data)
    except ValidationError as exc:
        root = yaml.compose(text)  # the node tree, only to name the line of each problem
        lines = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            line = _line_of(root, loc)
            where = f"{source}:{line}" if line else source
            got = "" if error["type"] == "missing" else f" (got {error.get('input')!r:.80})"
            lines.append(f"{where}: {_key_path(loc)}: {error['msg']}{got}")
        raise ConfigError("invalid unification config:\n  " + "\n  ".join(lines)) from exc
    problems = reference_errors(config)
    if problems:
        raise ConfigError("invalid unification config:\n  " + "\n  ".join(f"{source}: {p}" for p in problems))
    return config


def load_config(path: Path) -> UnificationConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from exc
    return load_config_text(text, str(path))


def config_json_schema() -> dict[str, Any]:
    """The JSON Schema of ``c360.yaml`` (for editor completion: ``# yaml-language-server: $schema=…``)."""
    schema = UnificationConfig.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "c360 unification config"
    return schema


def write_json_schema(path: Path) -> None:
    path.write_text(json.dumps(config_json_schema(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
