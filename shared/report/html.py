"""Render a run's figures as one self-contained HTML page: inline PNG charts, inline CSS, no scripts,
nothing fetched from the network. Every value is HTML-escaped (source data reaches the page)."""

from __future__ import annotations

import base64
import io
import itertools
import json
from html import escape
from typing import Any

CSS = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:1100px;color:#1f2933}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:2px solid #e4e7eb;padding-bottom:.3rem}
.meta{color:#52606d}.cards{display:flex;flex-wrap:wrap;gap:.8rem;margin:1rem 0}
.card{background:#f5f7fa;border-radius:8px;padding:.7rem 1rem;min-width:9rem}
.card b{display:block;font-size:1.35rem}.card span{color:#52606d;font-size:.85rem}
table{border-collapse:collapse;margin:.6rem 0;width:100%}th,td{border-bottom:1px solid #e4e7eb;padding:.3rem .5rem;
text-align:left}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.charts{display:flex;flex-wrap:wrap;gap:1rem}.charts img{max-width:520px;width:100%}
.failed{color:#b42318;font-weight:600}.ok{color:#027a48;font-weight:600}pre{background:#f5f7fa;padding:.6rem;
overflow:auto;font-size:12px}
"""


STALE_DAYS = 7  # a source whose latest file is this old is called out: retail feeds land daily or weekly


def _number(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return escape(str(value if value is not None else "–"))
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return escape(str(value))


def _table(rows: list[dict[str, Any]], columns: list[tuple[str, str]], numeric: set[str]) -> str:
    if not rows:
        return "<p class='meta'>nothing to show</p>"
    head = "".join(f"<th class='{'n' if k in numeric else ''}'>{escape(label)}</th>" for k, label in columns)
    body = "".join("<tr>" + "".join(f"<td class='{'n' if k in numeric else ''}'>{_number(r.get(k))}</td>"
                                    for k, _ in columns) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _chart(draw: Any, title: str) -> str:
    """A matplotlib figure as an inline PNG (Agg backend: no display, no fonts from the network)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(5.2, 2.8), dpi=100)
    try:
        draw(axis)
        axis.set_title(title, fontsize=10)
        axis.spines[["top", "right"]].set_visible(False)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
    finally:
        plt.close(figure)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f"<img alt='{escape(title)}' src='data:image/png;base64,{encoded}'>"


def _histogram_chart(histogram: dict[str, Any], title: str, label: str) -> str:
    edges, counts = histogram["edges"], histogram["counts"]

    def draw(axis: Any) -> None:
        widths = [b - a for a, b in itertools.pairwise(edges)]
        axis.bar(edges[:-1], counts, width=widths, align="edge", color="#3e7cb1", edgecolor="white")
        axis.set_xlabel(label, fontsize=9)
        axis.set_ylabel("count", fontsize=9)

    return _chart(draw, title)


def _bar_chart(items: dict[str, int], title: str, log: bool = False) -> str:
    """Horizontal bars; ``log``: a log axis where the counts span two decades or more (profile sizes at scale),
    its ticks plain numbers (``2×10¹`` read badly, and a narrower span left one labelled tick)."""
    def draw(axis: Any) -> None:
        from matplotlib.ticker import FuncFormatter, NullFormatter

        labels = list(items)[:15]
        values = [items[k] for k in labels]
        axis.barh(labels[::-1], values[::-1], color="#3e7cb1")
        if log and min(values, default=1) > 0 and max(values, default=1) >= 100 * min(values, default=1):
            axis.set_xscale("log")
            axis.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:,.0f}"))
            axis.xaxis.set_minor_formatter(NullFormatter())
        axis.tick_params(labelsize=8)

    return _chart(draw, title)


def render(figures: dict[str, Any], changes: dict[str, Any]) -> str:
    run, key = figures["run"], figures["key_numbers"]
    status = run.get("status") or "?"
    cards = "".join(f"<div class='card'><b>{_number(v)}</b><span>{escape(k.replace('_', ' '))}</span></div>"
                    for k, v in key.items())
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>c360 run {escape(str(run['run_id']))}"
             f"</title><style>{CSS}</style></head><body>",
             f"<h1>c360 run {escape(str(run['run_id']))}</h1>",
             f"<p class='meta'>status <span class='{'ok' if status == 'Completed' else 'failed'}'>{escape(status)}"
             f"</span> · mode {escape(str(run.get('mode')))} · trigger {escape(str(run.get('trigger')))} · started "
             f"{escape(str(run.get('started')))} · finished {escape(str(run.get('finished')))}"
             f"{' · published now' if figures.get('published_now') else ''}</p>"]
    if run.get("error"):
        parts.append(f"<p class='failed'>error: {escape(str(run['error']))}</p>")
    parts.append(f"<div class='cards'>{cards}</div>")

    parts.append("<h2>Sources</h2>")
    sources = [{"source": k, **v,
                "latest": (f"{v['latest_file'][:16].replace('T', ' ')} ({v['latest_file_age_days']:g} d)"
                           if v.get("latest_file_age_days") is not None else "–"),
                "reasons": "; ".join(f"{r['reason']} ({r['rows']})" for r in v.get("top_reasons", []))}
               for k, v in figures["sources"].items()]
    parts.append(_table(sources, [("source", "source"), ("files", "files"), ("landed", "rows landed"),
                                  ("accepted", "accepted"), ("quarantined", "quarantined"),
                                  ("snapshot_rows", "rows in table"), ("latest", "latest file (age)"),
                                  ("reasons", "top quarantine reasons")],
                        {"files", "landed", "accepted", "quarantined", "snapshot_rows"}))
    stale = sorted(k for k, v in figures["sources"].items() if (v.get("latest_file_age_days") or 0) >= STALE_DAYS)
    if stale:
        parts.append(f"<p class='failed'>no new file for {STALE_DAYS} days or more: {escape(', '.join(stale))} — "
                     "has a feed stopped?</p>")

    unification = figures["unification"]
    parts.append("<h2>Unification</h2>")
    parts.append(_table(unification.get("per_source", []),
                        [("source", "source"), ("records", "records"), ("merged_in_source", "duplicates merged"),
                         ("profiles", "profiles reached")], {"records", "merged_in_source", "profiles"}))
    ids = unification.get("ids", {})
    parts.append(f"<p>CustomerId since the last run: {_number(ids.get('new'))} new, {_number(ids.get('merges'))} "
                 f"merges, {_number(ids.get('splits'))} splits; {_number(unification.get('suspect_clusters'))} "
                 "clusters rebuilt by the chaining guard.</p>")
    parts.append(_table(unification.get("matches_per_rule", []), [("rule", "rule"), ("pairs", "candidate pairs kept"),
                                                                   ("linked", "linked")], {"pairs", "linked"}))
    charts = []
    if unification.get("score_histogram"):
        charts.append(_histogram_chart(unification["score_histogram"], "Match scores (cross-table pairs)", "score"))
    if unification.get("cluster_sizes"):
        charts.append(_bar_chart({f"{k} record{'' if str(k) == '1' else 's'}": v
                                  for k, v in unification["cluster_sizes"].items()},
                                 "Profiles by number of source records", log=True))
    parts.append(f"<div class='charts'>{''.join(charts)}</div>")
    parts.append("<h3>Largest profiles</h3>")
    parts.append(_table(unification.get("largest_clusters", []), [("customer_id", "CustomerId"),
                                                                   ("records", "records"), ("tables", "tables")],
                        {"records"}))

    completeness = figures.get("completeness") or []
    if completeness:
        def share(filled: int, total: int) -> str:
            return f"{filled:,} ({filled / total:.1%})" if total else "–"

        parts.append("<h3>Profile completeness</h3><p class='meta'>how many source records hold each attribute, "
                     "and how many profiles do once their records are merged</p>")
        parts.append(_table([{"attribute": r["attribute"] + (f" → {r['column']}" if r["column"] != r["attribute"]
                                                              else ""),
                              "records": share(r["records_filled"], r["records"]),
                              "profiles": share(r["profiles_filled"], r["profiles"])} for r in completeness],
                            [("attribute", "attribute"),
                             ("records", f"source records ({completeness[0]['records']:,})"),
                             ("profiles", f"profiles ({completeness[0]['profiles']:,})")], {"records", "profiles"}))

    enrichment = figures["enrichment"]
    parts.append("<h2>Enrichment</h2>")
    charts = []
    if enrichment.get("lifetime_value"):
        charts.append(_histogram_chart(enrichment["lifetime_value"]["histogram"], "Lifetime value", "value"))
    if enrichment.get("churn"):
        charts.append(_histogram_chart(enrichment["churn"]["histogram"], "Churn score", "P(churn)"))
    if enrichment.get("segments"):
        charts.append(_bar_chart(enrichment["segments"], "Segment sizes"))
    if enrichment.get("top_brands"):
        charts.append(_bar_chart({b["brand"]: b["customers"] for b in enrichment["top_brands"]},
                                 "Top brand (customers)"))
    parts.append(f"<div class='charts'>{''.join(charts)}</div>")
    if enrichment.get("rfm_segments"):
        parts.append(_table([{"segment": k, "customers": v} for k, v in enrichment["rfm_segments"].items()],
                            [("segment", "RFM segment"), ("customers", "customers")], {"customers"}))
    for name, model in enrichment.get("models", {}).items():
        text = json.dumps(model, indent=1, default=str, ensure_ascii=False)
        parts.append(f"<h3>Model: {escape(name)}</h3><pre>{escape(text)}</pre>")

    parts.append("<h2>Timings</h2>")
    steps = [{"step": k, **v} for k, v in figures["timings"]["steps"].items()]
    parts.append(_table(steps, [("step", "step"), ("activities", "activities"), ("seconds", "seconds (sum)"),
                                ("slowest", "slowest activity (s)")], {"activities", "seconds", "slowest"}))
    parts.append("<h2>Since the previous run</h2>")
    if changes:
        rows = [{"what": k, "change": v} for k, v in changes.items() if k != "source_rows"]
        rows += [{"what": f"rows in {k}", "change": v} for k, v in changes.get("source_rows", {}).items()]
        parts.append(_table(rows, [("what", "what"), ("change", "change")], {"change"}))
    else:
        parts.append("<p class='meta'>first published run</p>")
    parts.append("</body></html>")
    return "\n".join(parts)
