"""Infrastructure as code: every Bicep file parses, is described, holds no secret, and sets exactly the
settings the code reads; the post-deploy script passes shellcheck."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import tree_sitter as ts
import tree_sitter_bicep

from shared.settings import Settings

REPO = Path(__file__).resolve().parents[1]
BICEP = sorted((REPO / "infra" / "bicep").rglob("*.bicep"))
PARSER = ts.Parser(ts.Language(tree_sitter_bicep.language()))


def parse(path: Path) -> tuple[bytes, ts.Node]:
    source = path.read_bytes()
    return source, PARSER.parse(source).root_node


def text(source: bytes, node: ts.Node) -> str:
    return source[node.start_byte:node.end_byte].decode()


def problems(node: ts.Node) -> list[str]:
    found = [f"{node.type} at line {node.start_point[0] + 1}"] if node.is_error or node.is_missing else []
    for child in node.children:
        found += problems(child)
    return found


def walk(node: ts.Node):
    yield node
    for child in node.children:
        yield from walk(child)


def test_the_grammar_finds_errors_at_all() -> None:
    assert problems(PARSER.parse(b"param x string = {\nresource y 'a@b' = \n").root_node)


def test_the_deployment_has_a_main_file_modules_and_a_parameters_file() -> None:
    names = {p.relative_to(REPO / "infra" / "bicep").as_posix() for p in BICEP}
    assert "main.bicep" in names and {"modules/roles.bicep", "modules/function-app.bicep"} <= names
    parameters = json.loads((REPO / "infra" / "bicep" / "main.parameters.json").read_text())
    assert set(parameters["parameters"]) <= set(declared_params(REPO / "infra" / "bicep" / "main.bicep"))


def declared_params(path: Path) -> dict[str, str]:
    """Parameter name → its description decorator text ('' when missing)."""
    source, root = parse(path)
    out, pending = {}, ""
    for child in root.children:
        if child.type == "decorators":
            pending = text(source, child)
        elif child.type in ("parameter_declaration", "output_declaration"):
            name = next(c for c in child.children if c.type == "identifier")
            out[f"{child.type.split('_')[0]}:{text(source, name)}"] = pending
            pending = ""
        elif child.type != "comment":
            pending = ""
    return {k.split(":", 1)[1]: v for k, v in out.items() if k.startswith("parameter:")} | {
        k: v for k, v in out.items() if k.startswith("output:")}


@pytest.mark.parametrize("path", BICEP, ids=[p.name for p in BICEP])
def test_bicep_parses_without_syntax_errors(path: Path) -> None:
    _, root = parse(path)
    assert not problems(root), problems(root)


@pytest.mark.parametrize("path", BICEP, ids=[p.name for p in BICEP])
def test_every_parameter_and_output_is_described(path: Path) -> None:
    declared = declared_params(path)
    assert declared
    for name, decorators in declared.items():
        assert "@description(" in decorators, f"{path.name}: {name} has no description"
        if not name.startswith("output:"):
            assert re.search(r"@description\('(Required|Optional)\. ", decorators), f"{path.name}: {name}"


SECRETS = [r"AccountKey\s*=", r"SharedAccessSignature", r"sig=", r"listKeys\(", r"listKeys\b",
           r"(?i)password\s*[:=]", r"DefaultEndpointsProtocol", r"@secure\(\)", r"(?i)connectionString\s*:\s*'",
           r"sqlAdministratorLoginPassword"]


@pytest.mark.parametrize("path", [*BICEP, REPO / "infra" / "bicep" / "main.parameters.json",
                                  REPO / "infra" / "post-deploy.sh"], ids=lambda p: p.name)
def test_no_key_password_or_connection_string_appears(path: Path) -> None:
    content = path.read_text(encoding="utf-8")
    for pattern in SECRETS:
        assert not re.search(pattern, content), f"{path.name}: {pattern}"


def settings_the_code_reads(scope: str | None = None) -> set[str]:
    return {f.metadata["key"] for f in dataclasses.fields(Settings) if scope is None or f.metadata["scope"] == scope}


def bicep_app_settings() -> set[str]:
    """The C360_ keys main.bicep hands to the function app (found by the grammar, not by a regex)."""
    source, root = parse(REPO / "infra" / "bicep" / "main.bicep")
    keys = set()
    for node in walk(root):
        if node.type == "object_property":
            key = text(source, node.children[0])
            if key.startswith("C360_"):
                keys.add(key)
    return keys


def test_the_bicep_sets_exactly_the_settings_the_code_reads_in_azure() -> None:
    assert bicep_app_settings() == settings_the_code_reads("both")


def test_an_instance_runs_one_activity_at_a_time_in_memory_sized_for_the_merge() -> None:
    """Per-activity peaks were measured for one activity per process (bench/README.md); on Azure an
    instance must then run one activity at a time, whatever host.json allows the local host."""
    app = (REPO / "infra" / "bicep" / "modules" / "function-app.bicep").read_text()
    assert "AzureFunctionsJobHost__extensions__durableTask__maxConcurrentActivityFunctions: '1'" in app
    assert "PYTHON_THREADPOOL_THREAD_COUNT: '1'" in app
    main = (REPO / "infra" / "bicep" / "main.bicep").read_text()
    assert re.search(r"param instanceMemoryMB int = 4096", main)


def test_identity_based_host_storage_and_python_311_on_flex_consumption() -> None:
    app = (REPO / "infra" / "bicep" / "modules" / "function-app.bicep").read_text()
    for setting in ("AzureWebJobsStorage__blobServiceUri", "AzureWebJobsStorage__queueServiceUri",
                    "AzureWebJobsStorage__tableServiceUri", "AzureWebJobsStorage__credential",
                    "AzureWebJobsStorage__clientId"):
        assert setting in app
    assert "'FlexConsumption'" in app and "version: '3.11'" in app and "'UserAssigned'" in app
    roles = (REPO / "infra" / "bicep" / "modules" / "roles.bicep").read_text()
    assert roles.count("Microsoft.Authorization/roleAssignments") == 3  # lake, runtime, telemetry: one module
    others = [p for p in BICEP if p.name != "roles.bicep"]
    assert not any("roleAssignments" in p.read_text() for p in others)


def test_the_post_deploy_script_passes_shellcheck() -> None:
    if shutil.which("shellcheck") is None:
        pytest.fail("shellcheck is not installed (apt-get install shellcheck; make test does)")
    result = subprocess.run(["shellcheck", "--severity=style", str(REPO / "infra" / "post-deploy.sh")],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout
