"""Load and validate ``c360.yaml``; errors name the file, the key path, the line and what was expected."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from shared.config.checks import reference_errors
from shared.config.model import UnificationConfig
from shared.errors import ConfigError


def _key_path(loc: tuple[Any, ...], labels: list[bool]) -> str:
    path = ""
    for part, label in zip(loc, labels, strict=True):
        if label:
            continue  # pydantic's union-branch labels are not keys
        path += f"[{part}]" if isinstance(part, int) else ("." if path else "") + str(part)
    return path or "(top level)"


def _looks_like_label(part: object) -> bool:
    return isinstance(part, str) and (part.startswith(("function-", "literal[", "list[", "int", "str", "float",
                                                        "bool", "dict[")) or "[" in part)


class _Schema:
    """The config's JSON Schema, walked along an error's ``loc``: which parts name a union's branch
    (``SegmentCondition``, ``list[str]``), and the keys the mapping holding the last part allows."""

    def __init__(self) -> None:
        self.schema = config_json_schema()

    def _resolve(self, node: dict[str, Any] | None) -> dict[str, Any] | None:
        while node is not None and "$ref" in node:
            node = self.schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
        return node

    def _branches(self, node: dict[str, Any]) -> list[dict[str, Any]]:
        return [b for b in (self._resolve(x) for x in node.get("anyOf", node.get("oneOf", []))) if b is not None]

    def _child(self, node: dict[str, Any] | None, part: object) -> dict[str, Any] | None:
        node = self._resolve(node)
        if node is None:
            return None
        for branch in self._branches(node):
            if (child := self._child(branch, part)) is not None:
                return child
        if isinstance(part, str) and part in node.get("properties", {}):
            return self._resolve(node["properties"][part])
        if isinstance(part, int) and isinstance(node.get("items"), dict):
            return self._resolve(node["items"])
        if isinstance(part, str) and isinstance(node.get("additionalProperties"), dict):
            return self._resolve(node["additionalProperties"])
        return None

    def walk(self, loc: tuple[Any, ...]) -> tuple[list[bool], set[str]]:
        """(for each part of ``loc``: a branch label?; the keys allowed beside its last part)."""
        node: dict[str, Any] | None = self.schema
        labels: list[bool] = []
        keys: set[str] = set()
        for part in loc:
            node = self._resolve(node)
            branches = self._branches(node) if node is not None else []
            chosen = next((b for b in branches if isinstance(part, str) and b.get("title") == part), None)
            if chosen is not None or _looks_like_label(part):
                labels.append(True)
                node = chosen if chosen is not None else node
                continue
            labels.append(False)
            keys = set().union(*(b.get("properties", {}) for b in [*branches, *([node] if node else [])]))
            node = self._child(node, part)
        return labels, keys


_Walked = tuple[ErrorDetails, list[bool], set[str]]


def _fewest_branch_errors(walked: list[_Walked], start: int) -> list[_Walked]:
    """The errors to report: where a value fits no branch of a union (its ``loc`` holds a branch label from
    ``start`` on), those of the branch with the fewest errors to report, counted the same way inside it."""
    kept: list[_Walked] = []
    sites: dict[tuple[Any, ...], dict[Any, list[_Walked]]] = {}
    for item in walked:
        error, labels, _keys = item
        at = next((i for i in range(start, len(labels)) if labels[i]), None)
        if at is None:
            kept.append(item)
        else:
            sites.setdefault(tuple(error["loc"][:at]), {}).setdefault(error["loc"][at], []).append(item)
    for prefix, branches in sites.items():
        chosen: list[list[_Walked]] = [_fewest_branch_errors(items, len(prefix) + 1) for items in branches.values()]
        kept.extend(chosen[min(range(len(chosen)), key=lambda i: len(chosen[i]))])
    chosen_ids = {id(item) for item in kept}
    return [item for item in walked if id(item) in chosen_ids]  # in pydantic's order


def _describe(errors: list[ErrorDetails], schema: _Schema) -> list[tuple[tuple[Any, ...], str]]:
    """(loc, message) per error: of a union that no branch accepts, only the branch with the fewest errors
    (a condition with a mistyped key was reported as a broken nested rule too); an unknown key with the
    allowed ones it resembles."""
    import difflib

    walked = [(error, *schema.walk(tuple(error["loc"]))) for error in errors]
    described = []
    for error, labels, keys in _fewest_branch_errors(walked, 0):
        loc = tuple(error["loc"])
        if error["type"] == "extra_forbidden":
            close = difflib.get_close_matches(str(loc[-1]), sorted(keys), n=3, cutoff=0.6)
            hint = f"did you mean {' or '.join(close)}?" if close else f"the keys here: {', '.join(sorted(keys))}"
            message = f"unknown key {loc[-1]!r} ({hint})" if keys else "unknown key"
        else:
            shown = repr(error.get("input"))
            got = "" if error["type"] == "missing" else f" (got {shown if len(shown) <= 80 else shown[:79] + '…'})"
            message = f"{error['msg']}{got}"
        described.append((loc, f"{_key_path(loc, labels)}: {message}"))
    return described


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
        for loc, message in _describe(exc.errors(), _Schema()):
            line = _line_of(root, loc)
            lines.append(f"{source}:{line}: {message}" if line else f"{source}: {message}")
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
