"""``c360``: the command-line tool (demo data, local runs through the real function app, status, tools)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

app = typer.Typer(help="c360: one trusted, enriched customer dimension from ERP, CRM, POS and e-commerce data.",
                  no_args_is_help=True, add_completion=False)
console = Console(stderr=False)
LakeOption = Annotated[Path, typer.Option("--lake", help="Folder of the local lake.", file_okay=False)]


def _fail(message: str) -> NoReturn:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(2)


@app.command()
def demo(out: Annotated[Path, typer.Option("--out", help="Folder to write the demo into.")],
         customers: Annotated[int, typer.Option(help="Number of real people.", min=1)] = 10_000,
         seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
         activities: Annotated[bool, typer.Option(help="Also write orders and order lines.")] = True) -> None:
    """Write a seeded retail demo: four source systems, orders, lines, the config and the ground truth."""
    from c360_cli.demo import DemoSpec, write_demo

    with console.status("generating demo data…") as status:
        summary = write_demo(out, DemoSpec(customers=customers, seed=seed, activities=activities),
                             lambda message: status.update(f"generating {message}…"))
    table = Table(title=f"demo in {out}: {summary.people:,} people")
    table.add_column("landing folder")
    table.add_column("rows", justify="right")
    for folder, rows in {**summary.records, **summary.activity_rows}.items():
        table.add_row(folder, f"{rows:,}")
    console.print(table)
    console.print(f"config: {out / 'c360.yaml'}   ground truth: {out / 'truth.csv'}")


@app.command()
def validate(file: Annotated[Path, typer.Argument(help="The unification config (YAML).")]) -> None:
    """Validate a unification config; errors name the file, line, key path and what was expected."""
    from shared.config import load_config
    from shared.errors import ConfigError

    try:
        config = load_config(file)
    except ConfigError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    console.print(f"[green]valid[/green]: {len(config.sources)} sources, {len(config.activities)} activity tables, "
                  f"match order {' → '.join(config.unification.match_order)}")
    _print_warnings(config)


@app.command()
def preview(file: Annotated[Path, typer.Argument(help="A source extract (CSV, JSON Lines, Parquet, Excel).")],
            config: Annotated[Path, typer.Option("--config", help="The unification config.")],
            table: Annotated[str | None, typer.Option(
                "--table", help="The config's table the file is for (default: the one whose landing folder holds "
                             "the file, else the one of its format).")] = None,
            rows: Annotated[int, typer.Option(help="Converted rows to show.", min=0)] = 10) -> None:
    """Convert one extract as a run would, without a lake: the typed rows, and every rejected row with its
    field and reason — to try a new source's mapping before its files land."""
    import tempfile

    from shared.adapters.local_lake import LocalLake
    from shared.config import load_config
    from shared.errors import ConfigError
    from shared.ingest.convert import convert_file, wanted_columns
    from shared.ingest.landing import FORMAT_SUFFIXES
    from shared.lakeio import read_parquet

    try:
        loaded = load_config(config)
    except ConfigError as exc:
        _fail(str(exc))
    if not file.is_file():
        _fail(f"no file {file}")
    tables = [t for t in loaded.all_tables() if t.format != "cdm"]
    if table is None:  # the table whose landing folder the file is in, else the one table of its format
        fitting = [t for t in tables if file.name.lower().endswith(FORMAT_SUFFIXES[t.format])]
        placed = [t for t in fitting if f"/{t.landing.strip('/')}/" in file.resolve().as_posix()]
        if len(placed) == 1 or len(fitting) == 1:
            chosen = (placed if len(placed) == 1 else fitting)[0]
        else:
            _fail(f"pass --table: {'tables' if fitting else 'no table'} of the file's format: "
                  f"{', '.join(t.name for t in fitting) or ', '.join(t.name for t in tables)}")
    else:
        chosen = next((t for t in tables if t.name == table), None)  # type: ignore[assignment]
        if chosen is None:
            _fail(f"no table {table!r} in {config} (tables: {', '.join(t.name for t in tables)})")
    logging.getLogger("shared.ingest.convert").setLevel(logging.ERROR)  # what it would log is printed below
    with tempfile.TemporaryDirectory(prefix="c360-preview-") as scratch:
        lake = LocalLake(Path(scratch))
        (Path(scratch) / "landing").mkdir()
        (Path(scratch) / "landing" / file.name).symlink_to(file.resolve())  # read in place, streamed
        result = convert_file(lake, chosen, f"landing/{file.name}", "entity.parquet", "quarantine.parquet")
        console.print(f"{escape(str(file))} as [bold]{chosen.name}[/bold] ({chosen.format}): "
                      f"{result.rows:,} rows read, "
                      f"{result.accepted:,} accepted, {result.quarantined:,} quarantined")
        if result.error:
            _fail(f"the file is quarantined whole: {result.error}")
        read = wanted_columns(chosen)
        unread = [c for c in result.columns if c not in read]
        if unread:  # a column the mapping may have meant, or one it may yet want
            console.print(f"columns of the file no mapping reads: {escape(', '.join(unread))}")
        if result.accepted and rows:
            entity = read_parquet(lake, "entity.parquet").slice(0, rows).drop_columns(["SourceFile"])
            lines = entity.column("SourceLine").to_pylist()
            shown = Table(title=f"the first {len(entity)} converted rows, one per column (typed as the entity holds "
                                "them; null is empty)")
            shown.add_column("attribute ← source column (type)", no_wrap=True)
            source_of = {mapping.attribute(column): column for column, mapping in chosen.columns.items()}
            for line in lines:
                shown.add_column(f"row {line}", overflow="fold")
            for field in entity.schema:
                if field.name == "SourceLine":
                    continue
                values = entity.column(field.name).to_pylist()
                origin = f" ← {source_of[field.name]}" if source_of.get(field.name, field.name) != field.name else ""
                shown.add_row(escape(f"{field.name}{origin} ({field.type})"),
                              *("" if v is None else escape(str(v)) for v in values))
            console.print(shown)
        if result.quarantined:
            rejected = read_parquet(lake, "quarantine.parquet", ["Row", "Field", "Reason"])
            listed = Table(title="quarantined rows")
            for name in ("row", "field", "reason"):
                listed.add_column(name, overflow="fold")
            for record in rejected.to_pylist():
                listed.add_row(str(record["Row"]), escape(str(record["Field"] or "")), escape(record["Reason"]))
            console.print(listed)


@app.command()
def schema(out: Annotated[Path, typer.Option("--out", help="Where to write the JSON Schema.")] = Path(
        "schemas/c360.schema.json")) -> None:
    """Write the JSON Schema of the unification config (for editor completion)."""
    from shared.config.load import write_json_schema

    out.parent.mkdir(parents=True, exist_ok=True)
    write_json_schema(out)
    console.print(f"wrote {out}")


def _print_warnings(config: Any) -> None:
    """What the config says that is valid but likely not meant (``config_warnings``)."""
    from shared.config.checks import config_warnings

    for warning in config_warnings(config):
        console.print(f"[yellow]warning[/yellow]: {escape(warning)}")


def _print_status(status: Any) -> None:
    from c360_cli.local import status_details

    if isinstance(status, dict):
        console.print(f"  [cyan]{status.get('step')}[/cyan] {status_details(status)}")


@app.command()
def run(lake: LakeOption,
        config: Annotated[Path | None, typer.Option("--config", help="Unification config to use.")] = None,
        landing: Annotated[Path | None, typer.Option("--landing", help="Folder of extracts to land.")] = None,
        mode: Annotated[str, typer.Option(help="incremental | full | full_since | match_only")] = "incremental",
        since: Annotated[str | None, typer.Option(
            help="With --mode full_since: full data plus incremental data from this date (YYYY-MM-DD).")] = None,
        quiet: Annotated[int, typer.Option(help="Quiet period (s) before a run starts.")] = 1,
        workers: Annotated[int | None, typer.Option(
            help="Worker processes for activities (FUNCTIONS_WORKER_PROCESS_COUNT; default: one per core).")] = None,
        ) -> None:
    """Land files into the lake, raise a BlobCreated event per file, and follow the run to the end."""
    from c360_cli.local import (
        blob_created_event,
        default_workers,
        follow,
        land_files,
        local_settings,
        running_host,
    )
    from orchestrators.starters import instance_id
    from shared.runtime import build_runtime

    settings = local_settings(lake, {"C360_QUIET_PERIOD_SECONDS": str(quiet)})
    runtime = build_runtime(settings)
    if config is not None:
        from shared.config import load_config
        from shared.errors import ConfigError

        try:
            loaded = load_config(config)  # fail early, with the file's own line numbers
        except ConfigError as exc:
            _fail(str(exc))
        _print_warnings(loaded)
        runtime.lake.write_bytes(settings.config_path, config.read_bytes())
    elif not runtime.lake.exists(settings.config_path):
        _fail(f"no config in the lake at {settings.config_path}; pass --config FILE")
    landed = land_files(runtime.lake, landing, settings.landing_prefix) if landing else []
    console.print(f"landed {len(landed)} files into {lake / settings.landing_prefix}")
    with running_host(settings, worker_processes=workers or default_workers()) as host:
        instance = instance_id(runtime)
        if landed and mode == "incremental":
            _deliver(host, [blob_created_event(settings, runtime.lake, p) for p in landed])
        else:
            _start_http(host, mode, since)
        if host.taskhub.get(instance) is None:
            console.print("nothing to do: every landed file was already processed")
            return
        # a run done but for files of an open incremental hour: the host would sit on the timer until the hour
        # closes; say so and leave — the files stay pending, and the next run after that time takes them
        result = follow(host, instance, _print_status, until=_waits_for_an_hour)
    if not _summarise(runtime, result):
        raise typer.Exit(1)


def _waits_for_an_hour(status: Any) -> bool:
    from shared.names import WAITING_FOR_HOUR

    return isinstance(status, dict) and status.get("step") == WAITING_FOR_HOUR


def _deliver(host: Any, events: list[dict[str, Any]]) -> None:
    """``BlobCreated`` to the Event Grid webhook; a failed delivery (the lake's config unreadable) ends with
    the starter's message — the files stay landed for a run once it is fixed."""
    import urllib.error

    from c360_cli.local import http_error_message, post_events

    try:
        post_events(host, events)
    except urllib.error.HTTPError as exc:
        _fail(f"the landed files were not admitted ({exc.code}): {http_error_message(exc)}")


def _start_http(host: Any, mode: str, since: str | None = None) -> None:
    """``POST /api/runs`` as any client would; a refused request (400, 409) ends with the API's own message."""
    import urllib.error
    import urllib.request

    from c360_cli.local import http_error_message

    body = {"mode": mode, **({"since": since} if since is not None else {})}
    request = urllib.request.Request(f"{host.base_url}/api/runs", data=json.dumps(body).encode(),
                                     method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        _fail(f"the run was not started ({exc.code}): {http_error_message(exc)}")


def _summarise(runtime: Any, result: Any) -> bool:
    from shared.names import RUN_ENDED
    from shared.runs import current, read_run_record

    status = result.custom_status or {}
    run_id = status.get("run_id")
    waiting = _waits_for_an_hour(status)
    # the run's own status (Completed, Skipped, Failed); while it waits for an hour the instance runs on
    record = read_run_record(runtime.lake, run_id) if run_id else {}
    outcome = str(record["status"]) if record.get("status") in RUN_ENDED else str(result.status)
    good = outcome in ("Completed", "Skipped")
    colour = "green" if good else "red"
    console.print(f"[{colour}]run {run_id}: {outcome}[/{colour}] in {result.seconds:.1f} s")
    if waiting:
        console.print(f"{status['files']} file(s) wait for their incremental hour to close: they stay pending, and "
                      f"the next run after {status['until']} takes them (c360 run --lake {runtime.settings.lake_root})")
    if not run_id:
        return good
    steps = {s["step"] + (f"-{s['key']}" if s.get("key") else ""): s for s in record["steps"]}
    applied = steps.get("apply_source_changes") or {}
    repeated = {name: int(n) for name, n in (applied.get("duplicates") or {}).items() if n}
    table = Table(title="records per source")
    columns = ("table", "rows read", "accepted", "quarantined") + (("repeated key",) if repeated else ())
    for column in columns:
        table.add_column(column, justify="right" if column != "table" else "left")
    per_table: dict[str, list[int]] = {}
    for step in steps.values():
        if step["step"] == "convert_source_file":
            counts = per_table.setdefault(step.get("table", "?"), [0, 0, 0])
            counts[0] += step.get("rows", 0)
            counts[1] += step.get("accepted", 0)
            counts[2] += step.get("quarantined", 0)
    for name, (rows, accepted, quarantined) in sorted(per_table.items()):
        table.add_row(name, f"{rows:,}", f"{accepted:,}", f"{quarantined:,}",
                      *([f"{repeated.get(name, 0):,}"] if repeated else []))
    console.print(table)
    from shared.lakeio import read_json
    from shared.paths import RunPaths
    from shared.report.html import STALE_DAYS

    report = read_json(runtime.lake, RunPaths(run_id).report_json, default={}) or {}
    stale = {name: row["latest_file_age_days"] for name, row in (report.get("sources") or {}).items()
             if (row.get("latest_file_age_days") or 0) >= STALE_DAYS}
    if stale:  # a feed that stopped delivering leaves its table as it was: say so where the run is read
        console.print(f"[yellow]no new file for {STALE_DAYS} days or more[/yellow]: "
                      + ", ".join(f"{name} ({days:g} days)" for name, days in sorted(stale.items())))
    if repeated:  # a key given twice keeps its first row (file order, then line), as Customer Insights does
        console.print(f"{sum(repeated.values()):,} accepted row(s) repeat a primary key and are not in the snapshot: "
                      "the first row of each key is kept")
    for step in steps.values():  # a file that could not be read at all is in the quarantine whole
        if step["step"] == "convert_source_file" and step.get("error"):
            path, error = escape(str(step.get("path"))), escape(step["error"])
            console.print(f"[red]file quarantined whole[/red]: {path}: {error}")
    pointer = current(runtime.lake)
    if not good:  # the failed run's counts are no one's: say what failed and what stays published
        error = record.get("error") or status.get("error") or "see c360 status"
        console.print(f"[red]failed[/red]: {escape(str(error))}")
        console.print(f"the published dimension is unchanged: run {pointer['run_id']}" if pointer
                      else "nothing is published yet")
        console.print(f"steps and errors: c360 status --lake {runtime.settings.lake_root} {run_id}")
        return good
    merge = steps.get("merge_clusters")
    if merge and merge.get("status") == "Succeeded":
        console.print(f"unified customers: [bold]{merge['customers']:,}[/bold] from {merge['records']:,} records "
                      f"({merge['merged']:,} duplicates merged; {merge['new_ids']:,} new ids, "
                      f"{merge['merges']:,} merges, {merge['splits']:,} splits)")
    if pointer and runtime.settings.sql_kind == "duckdb":
        database = runtime.settings.resolved_duckdb_path()
        console.print(f"views in [bold]{database}[/bold]: {', '.join(sorted(pointer['entities']))} "
                      f"(schema {runtime.settings.sql_schema})")
        console.print(f'try: c360 sql --lake {runtime.settings.lake_root} '
                      f'"SELECT FirstName, LastName, Email, LifetimeValue, ChurnScore, TopBrand '
                      f'FROM {runtime.settings.sql_schema}.Customer LIMIT 5"')
    return good


@app.command()
def status(lake: LakeOption, run_id: Annotated[str | None, typer.Argument(help="A run id.")] = None) -> None:
    """Show recent runs, or one run's steps with timings and counts."""
    from c360_cli.local import local_settings
    from shared.runs import current, list_runs, read_run_record
    from shared.runtime import build_lake

    lake_port = build_lake(local_settings(lake))
    runs = list_runs(lake_port)
    if not runs:
        _fail(f"no runs in {lake}")
    published = (current(lake_port) or {}).get("run_id")
    if run_id is None:
        # whole run ids (status RUN and rollback RUN take them; they begin with the start time, UTC) and how
        # long each run took, in 80 columns
        table = Table(title=f"runs in {lake}", box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
        for column in ("run", "status", "mode", "trigger", "s", "live"):
            table.add_column(column, no_wrap=True, justify="right" if column == "s" else "left")
        for rid in reversed(runs[-20:]):
            record = read_run_record(lake_port, rid)
            took = ""
            if record.get("started") and record.get("finished"):
                span = datetime.fromisoformat(record["finished"]) - datetime.fromisoformat(record["started"])
                took = f"{span.total_seconds():.1f}"
            table.add_row(rid, str(record.get("status")), str(record.get("mode")), str(record.get("trigger")), took,
                          "yes" if rid == published else "")
        console.print(table)
        return
    if run_id not in runs:
        _fail(f"no run {run_id!r} in {lake}")
    record = read_run_record(lake_port, run_id)
    console.print(f"run {run_id}: [bold]{record.get('status')}[/bold] mode={record.get('mode')} "
                  f"published={'yes' if run_id == published else 'no'} {record.get('error') or ''}")
    if record.get("deferred"):  # incremental files of an hour not yet closed
        console.print(f"{record['deferred']['files']} file(s) wait for their incremental hour to close; "
                      f"a follow-up run takes them at {record['deferred']['until']}")
    table = Table(title="steps")
    for column in ("step", "status", "seconds", "peak MB", "counts"):
        table.add_column(column)
    for step in record["steps"]:
        counts = {k: v for k, v in step.items()
                  if k not in ("step", "key", "started", "finished", "seconds", "status", "peak_mb")}
        peak = step.get("peak_mb")  # None where the step shared its process with another (host threads)
        table.add_row(step["step"] + (f" [{step['key']}]" if step.get("key") else ""), step.get("status", ""),
                      f"{step.get('seconds', 0):.2f}", "–" if peak is None else f"{peak:,.0f}",
                      json.dumps(counts, default=str)[:120])
    console.print(table)


@app.command()
def explain(lake: LakeOption,
            first: Annotated[str, typer.Argument(help="First record: SOURCE_TABLE:KEY, e.g. crm_contacts:1234")],
            second: Annotated[str, typer.Argument(help="Second record: SOURCE_TABLE:KEY")],
            run_id: Annotated[str | None, typer.Option("--run", help="Run to explain (default: published).")] = None
            ) -> None:
    """Explain why two source records are (or are not) one customer: rules, conditions, scores, weights."""
    from c360_cli.local import local_settings
    from shared.config import load_config_text
    from shared.match.explain import explain_pair
    from shared.paths import RunPaths
    from shared.runs import current
    from shared.runtime import build_lake

    lake_port = build_lake(local_settings(lake))
    run_id = run_id or (current(lake_port) or {}).get("run_id")
    if not run_id:
        _fail("no published run; pass --run RUN_ID")
    config = load_config_text(lake_port.read_bytes(RunPaths(run_id).config).decode("utf-8"))
    refs = []
    for text in (first, second):
        source, _, key = text.partition(":")
        if not key or source not in config.unification.match_order:
            _fail(f"{text!r}: expected SOURCE_TABLE:KEY with a table of {', '.join(config.unification.match_order)}")
        refs.append((source, key))
    try:
        result = explain_pair(lake_port, config, run_id, refs[0], refs[1])
    except KeyError as exc:
        _fail(str(exc.args[0]))
    console.print(f"run {run_id}: {result.records[0]} → {result.customer_ids[0]}, "
                  f"{result.records[1]} → {result.customer_ids[1]}")
    for rule in result.rules:
        table = Table(title=f"{rule.kind} rule {rule.rule!r}: {'MATCH' if rule.matched else 'no match'}")
        for column in ("field", "left (normalized)", "right (normalized)", "score", "needs", "holds"):
            table.add_column(column)
        for c in rule.conditions:
            table.add_row(c.field, str(c.left), str(c.right), "" if c.score is None else f"{c.score:.3f}",
                          f"{c.threshold:.2f}", "missing" if c.holds is None else str(c.holds))
        console.print(table)
        for exception in rule.exceptions:
            console.print(f"  exception fired: {exception}")
        if rule.uncompared:
            console.print(f"  not compared: {rule.uncompared}", markup=False)
    if result.comparisons:
        table = Table(title=f"probabilistic: match probability {result.probability:.4f}")
        for column in ("comparison", "left", "right", "level", "value's frequency", "weight (bits)"):
            table.add_column(column)
        for row in result.comparisons:  # an exact agreement on a rare value weighs more (term frequency)
            frequency = "" if row["term_frequency"] is None else f"{row['term_frequency']:.4%}"
            table.add_row(row["comparison"], str(row["left"]), str(row["right"]), row["level"], frequency,
                          f"{row['weight']:+.2f}")
        console.print(table)
        console.print("blocking keys that pair them: " + (", ".join(result.blocking) if result.blocking else
                                                     "none (the model never compared them)"))
    console.print(f"[bold]{result.verdict}[/bold]")


@app.command()
def sql(lake: LakeOption, query: Annotated[str, typer.Argument(help="A SQL query over the published views.")]) -> None:
    """Query the published views in the embedded DuckDB endpoint."""
    from c360_cli.local import local_settings
    from shared.errors import SqlEndpointError
    from shared.runtime import build_runtime

    runtime = build_runtime(local_settings(lake))
    if runtime.sql is None:
        _fail("no SQL endpoint configured")
    try:
        columns, rows = runtime.sql.query_with_columns(query)
    except SqlEndpointError as exc:  # a typo in a column name is the user's to fix, not a traceback
        _fail(str(exc))
    # plain text, not the console: one line per row whatever the terminal's width, real tabs (for cut, awk)
    typer.echo("\t".join(map(_tsv, columns)))
    for row in rows:
        typer.echo("\t".join("" if v is None else _tsv(str(v)) for v in row))


def _tsv(value: str) -> str:
    """A field of tab-separated text: a backslash, tab or line break inside escaped (``\\t``), as
    PostgreSQL's text format does, so every row stays one line of as many fields as the header."""
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


@app.command()
def watch(lake: LakeOption,
          quiet: Annotated[int, typer.Option(help="Quiet period (s) before a run starts.")] = 5) -> None:
    """Watch the lake's landing folder: each file dropped there raises BlobCreated, runs start on their own."""
    import threading

    from c360_cli.local import local_settings
    from c360_cli.watch import watch as run_watch

    stop = threading.Event()
    try:
        run_watch(local_settings(lake, {"C360_QUIET_PERIOD_SECONDS": str(quiet)}), stop,
                  lambda line: console.print(line, markup=False))
    except KeyboardInterrupt:
        stop.set()


@app.command()
def report(lake: LakeOption, run_id: Annotated[str | None, typer.Argument(help="A run (default: the latest).")] = None,
           open_it: Annotated[bool, typer.Option("--open/--no-open", help="Open it in the browser.")] = True,
           rebuild: Annotated[bool, typer.Option(help="Compute the report again from the lake.")] = False) -> None:
    """Open a run's HTML report (written by every run; rebuilt if missing or asked to)."""
    import webbrowser

    from c360_cli.local import local_settings
    from shared.paths import RunPaths
    from shared.report import write_report
    from shared.runs import list_runs
    from shared.runtime import build_runtime
    from shared.steps import run_config

    runtime = build_runtime(local_settings(lake))
    runs = list_runs(runtime.lake)
    if not runs:
        _fail(f"no runs in {lake}")
    chosen = run_id or runs[-1]
    if chosen not in runs:
        _fail(f"no run {chosen!r}; recent: {', '.join(runs[-5:])}")
    paths = RunPaths(chosen)
    if rebuild or not runtime.lake.exists(paths.report):
        write_report(runtime.lake, run_config(runtime, chosen), chosen)
    target = Path(runtime.lake.url(paths.report))
    console.print(f"report of run {chosen}: {target}")
    if open_it:
        webbrowser.open(target.resolve().as_uri())


@app.command("synapse-sql")
def synapse_sql(part: Annotated[str, typer.Argument(help="master | database")],
                identity: Annotated[str, typer.Option(help="Name of the function's managed identity.")] = "",
                database: Annotated[str, typer.Option(help="Database of the views.")] = "c360") -> None:
    """Print the one-time T-SQL the post-deploy script runs (sqlcmd script, GO between batches)."""
    from shared.sql.render import SynapseSetup, render_tsql_database, render_tsql_identity_user, script

    if part == "master":
        setup = SynapseSetup(database, "c360", "c360_lake", "c360_identity", "", "c360_readers")
        sys.stdout.write(script(render_tsql_database(setup)))
    elif part == "database":
        if not identity:
            _fail("--identity is required for the database part")
        sys.stdout.write(script(render_tsql_identity_user(identity)))
    else:
        _fail(f"part must be master or database, got {part!r}")


@app.command()
def rollback(lake: LakeOption,
             run_id: Annotated[str, typer.Argument(help="A kept, published run to restore.")]) -> None:
    """Point the views back at an earlier published run (the last few are kept: C360_RUNS_TO_KEEP)."""
    from c360_cli.local import local_settings
    from shared.errors import PublishError
    from shared.export.retention import rollback as restore
    from shared.runtime import build_runtime

    runtime = build_runtime(local_settings(lake))
    try:
        views = restore(runtime.settings, runtime.lake, runtime.sql, run_id)
    except PublishError as exc:
        _fail(str(exc))
    console.print(f"run {run_id} is published again: {', '.join(views)}")


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    sys.exit(app())


if __name__ == "__main__":
    main()
