"""Enrichment on a handful of orders whose every number is worked out by hand in the comments."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from tests.match.harness import enrich, unify
from tests.match.test_rules import config, row

ACTIVITIES = """
activities:
  - {name: orders, data_source: CRM, table: Orders, landing: crm_orders, activity_type: SalesOrder,
     primary_key: order, timestamp: at, amount: total, customer_key: contact, customer_source: crm,
     columns: {at: {data_type: dateTime}, total: {data_type: double}, contact: {data_type: string}}}
  - {name: lines, data_source: CRM, table: OrderLines, landing: crm_lines, activity_type: SalesOrderLine,
     primary_key: [order, line], order_key: order, order_source: orders, amount: amount,
     columns: {order: {data_type: string}, line: {data_type: int64}, brand: Brand, amount: {data_type: double}}}
  - {name: receipts, data_source: POS, table: Receipts, landing: pos_receipts, activity_type: SalesOrder,
     primary_key: receipt, timestamp: at, amount: total, customer_key: member, customer_source: pos,
     columns: {at: {data_type: dateTime}, total: {data_type: double}, member: {data_type: string}}}
enrichment:
  as_of: "2026-04-01T00:00:00+00:00"
  measures:
    - {name: BiggestRecentOrder, aggregation: max, field: Amount, activity_type: SalesOrder, window_days: 60}
    - {name: Brands, aggregation: count_unique, field: Brand, activity_type: SalesOrderLine}
    - {name: LatestBrand, aggregation: last, field: Brand, activity_type: SalesOrderLine}
  brand_affinity: {prior_weight: 5}
  segments:
    - name: big_spenders
      rule: {all: [{field: TotalSpend, op: ">=", value: 100}]}
    - name: returners
      rule: {all: [{field: ReturnRate, op: ">", value: 0}]}
    - {name: either, union: [big_spenders, returners]}
    - {name: loyal_big_spenders, exclude: [either, returners]}
    - name: lee_or_cy   # profile columns, a nested rule: the segments step reads only the columns named here
      rule: {any: [{field: LastName, op: "=", value: Lee}, {all: [{field: FirstName, op: contains, value: cy}]}]}
    - {name: either_and_lee_or_cy, intersect: [either, lee_or_cy]}
    - name: champions   # a rule on the RFM segment the same step computes
      rule: {all: [{field: RfmSegment, op: "=", value: Champions}]}
"""


@pytest.fixture(scope="module")
def enriched(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, pd.DataFrame], object]:
    email_rule = "\n        - name: email\n          conditions: [{field: Email, normalize: [lowercase]}]"
    text = config(email_rule) + ACTIVITIES
    tables = {
        # Ann is CRM 1 and POS 7 (same email); Bob is CRM 2; Cy (CRM 3) never buys
        "crm": [row("1", "Ann", "Lee", "ann@x.com"), row("2", "Bob", "Ray", "bob@x.com"),
                row("3", "Cy", "Wu", "cy@x.com")],
        "pos": [row("7", "Ann", "Lee", "ANN@x.com")],
        "orders": [{"order": "O1", "at": "2026-01-10T12:00:00Z", "total": "100", "contact": "1"},
                   {"order": "O2", "at": "2026-02-01T12:00:00Z", "total": "50", "contact": "2"},
                   {"order": "O3", "at": "2026-03-01T12:00:00Z", "total": "-20", "contact": "2"},  # a return
                   {"order": "O4", "at": "2026-03-05T12:00:00Z", "total": "10", "contact": "99"}],  # unknown customer
        "lines": [{"order": "O1", "line": "1", "brand": "Acme", "amount": "40"},
                  {"order": "O1", "line": "2", "brand": "Acme", "amount": "40"},
                  {"order": "O1", "line": "3", "brand": "Zen", "amount": "20"},
                  {"order": "O2", "line": "1", "brand": "Zen", "amount": "50"}],
        "receipts": [{"receipt": "R1", "at": "2026-03-31T09:00:00Z", "total": "60", "member": "7"}],
    }
    unified = unify(tmp_path_factory.mktemp("lake"), text, tables)
    return enrich(unified, text), unified


def by_customer(frame: pd.DataFrame, unified: object, table: str, key: str) -> dict[str, object]:
    customer = unified.customer_of(table, key)  # type: ignore[attr-defined]
    rows = frame[frame["CustomerId"] == customer]
    assert len(rows) == 1, (table, key, len(rows))
    return rows.iloc[0].to_dict()


def test_activities_link_through_the_crosswalk_from_both_sources(enriched) -> None:
    out, unified = enriched
    activity = out["UnifiedActivity"]
    ann = unified.customer_of("Contacts", "1")
    assert sorted(activity[activity["CustomerId"] == ann]["SourceActivityId"]) == ["O1", "O1|1", "O1|2", "O1|3", "R1"]
    assert "O4" not in set(activity["SourceActivityId"])  # no customer: not in the unified table
    o3 = activity[activity["SourceActivityId"] == "O3"].iloc[0]
    assert bool(o3["IsReturn"]) and o3["Amount"] == -20
    assert activity["ActivityId"].is_unique


def test_built_in_and_configured_measures(enriched) -> None:
    out, unified = enriched
    measures = out["measures"]
    ann = by_customer(measures, unified, "Contacts", "1")
    # Ann: O1 100 on Jan 10 + R1 60 on Mar 31; as of Apr 1
    assert (ann["TotalSpend"], ann["TransactionCount"], ann["AverageOrderValue"]) == (160, 2, 80)
    assert (ann["TenureDays"], ann["DaysSinceLastPurchase"], ann["ReturnRate"]) == (81, 1, 0)
    assert ann["BiggestRecentOrder"] == 60  # O1 (Jan 10) is older than 60 days
    assert (ann["Brands"], ann["LatestBrand"]) == (2, "Zen")  # lines share O1's time: ties go by source key
    bob = by_customer(measures, unified, "Contacts", "2")
    # Bob: O2 50 on Feb 1, return O3 -20 on Mar 1
    assert (bob["TotalSpend"], bob["TransactionCount"], bob["AverageOrderValue"]) == (30, 1, 50)
    assert (bob["DaysSinceLastPurchase"], bob["ReturnRate"]) == (59, 0.5)
    assert bob["BiggestRecentOrder"] == 50  # Feb 1 is 59 days before Apr 1
    assert unified.customer_of("Contacts", "3") not in set(measures["CustomerId"])  # no activity: no row


def test_brand_affinity_scores_levels_and_share_of_voice(enriched) -> None:
    out, unified = enriched
    detail = out["BrandAffinity"]
    ann, bob = unified.customer_of("Contacts", "1"), unified.customer_of("Contacts", "2")
    got = {(c, b): (s, lv, sov) for c, b, s, lv, sov in
           detail[["CustomerId", "Brand", "AffinityScore", "AffinityLevel", "ShareOfVoice"]].itertuples(index=False)}
    # population: Acme 2/4, Zen 2/4; prior weight 5 → smoothed shares and lifts:
    #   Ann-Acme (2+2.5)/(3+5) = .5625 → 1.125; Ann-Zen (1+2.5)/8 = .4375 → .875; Bob-Zen (1+2.5)/6 → 1.167
    # percentile ranks of the lifts 1/3, 2/3, 3/3 → scores 34, 67, 100
    assert got == {(ann, "Acme"): (67, "Medium", 66.7), (ann, "Zen"): (34, "Low", 33.3),
                   (bob, "Zen"): (100, "Very high", 100.0)}
    top = out["brand_affinity"]
    assert by_customer(top, unified, "Contacts", "1")["TopBrand"] == "Acme"
    assert by_customer(top, unified, "Contacts", "2")["TopBrandLevel"] == "Very high"


def test_rfm_and_rule_segments(enriched) -> None:
    out, unified = enriched
    segments = out["segments"]
    ann = by_customer(segments, unified, "Contacts", "1")
    bob = by_customer(segments, unified, "Contacts", "2")
    # two buyers: the better gets quintile 5 (rank 2/2), the other 3 (rank 1/2 → ceil(2.5))
    assert (ann["RfmScore"], ann["RfmSegment"]) == ("555", "Champions")
    assert (bob["RfmScore"], bob["RfmSegment"]) == ("333", "Needs Attention")
    assert ann["Segments"] == "big_spenders;champions;either;either_and_lee_or_cy;lee_or_cy;loyal_big_spenders"
    assert bob["Segments"] == "either;returners"
    cy = by_customer(segments, unified, "Contacts", "3")
    assert cy["Segments"] == "lee_or_cy" and pd.isna(cy["RfmScore"])  # Cy buys nothing: no RFM scores
    membership = out["SegmentMembership"]
    assert membership["SegmentMembershipId"].is_unique
    assert set(membership[membership["CustomerId"] == bob["CustomerId"]]["Segment"]) == {
        "RFM: Needs Attention", "either", "returners"}


def test_models_are_skipped_with_too_few_customers_and_say_so(enriched) -> None:
    out, _ = enriched
    assert "lifetime_value" not in out and "churn" not in out  # 2 buyers: below the minimum for a fit


def test_rfm_scores_of_tied_customers_do_not_depend_on_how_the_customer_table_is_sharded(tmp_path) -> None:
    """Quintiles rank ties in CustomerId order: the Customer table is read from its shards, which come in
    any order, and so may the rows of the measures. The file keeps its column types with a non-buyer."""
    ids = [f"c{i:02d}" for i in range(10)]
    measures = pd.DataFrame({"CustomerId": ids, "TransactionCount": [2] * 9 + [0],
                             "DaysSinceLastPurchase": [30] * 9 + [None], "TotalSpend": [50.0] * 9 + [0.0]})
    ordered = _segments_of(tmp_path / "ordered", [ids[:5], ids[5:]], measures)
    shuffled = _segments_of(tmp_path / "shuffled", [["c07", "c02", "c09"], ["c04", "c00", "c08", "c01"],
                                                    ["c06", "c05", "c03"]], measures.sample(frac=1, random_state=3))
    assert ordered.column("CustomerId").to_pylist() == ids  # c09 is in a segment, not a buyer
    assert ordered.column("RecencyScore").to_pylist() == [1, 2, 2, 3, 3, 4, 4, 5, 5, None]  # ranks 1/9 … 9/9
    assert ordered.equals(shuffled)
    chosen = [i for i, names in zip(ids, ordered.column("Segments").to_pylist(), strict=True) if "chosen" in names]
    assert chosen == ["c03", "c09"]  # a rule may name ids
    assert ordered.schema.field("RecencyScore").type == pa.int64()


def test_segments_without_orders_are_the_rules_alone(tmp_path) -> None:
    """A run without activities has no measures: no RFM scores, and the rules still segment profiles."""
    from shared.adapters.local_lake import LocalLake
    from shared.lakeio import read_parquet
    from shared.paths import RunPaths

    ids = [f"c{i:02d}" for i in range(4)]
    segments = _segments_of(tmp_path, [ids[2:], ids[:2]], None)
    assert segments.column_names == ["CustomerId", "Segments"]
    assert segments.to_pylist() == [{"CustomerId": i, "Segments": ("chosen;" if i == "c03" else "") + "lee_or_cy;lees"}
                                    for i in ids]  # the rules on measures and RFM scores hold for nobody
    membership = read_parquet(LocalLake(tmp_path), RunPaths("20260401T000000Z-ties").enrichment("segment_membership"))
    assert list(zip(membership.column("Segment").to_pylist(), membership.column("CustomerId").to_pylist(),
                    strict=True)) == [("lees", i) for i in ids] + [("chosen", "c03")] + [("lee_or_cy", i) for i in ids]
    assert set(membership.column("SegmentProvider").to_pylist()) == {"c360"}


def _segments_of(lake_root, shards: list[list[str]], measures: pd.DataFrame | None) -> pa.Table:
    from shared.adapters.local_lake import LocalLake
    from shared.config.load import load_config_text
    from shared.enrich.run import run_enrichment
    from shared.lakeio import read_parquet, write_parquet
    from shared.names import Enrichment
    from shared.paths import RunPaths

    segments = ("  segments:\n    - {name: lees, rule: {all: [{field: LastName, op: \"=\", value: Lee}]}}\n"
                "    - {name: chosen, rule: {all: [{field: CustomerId, op: in, value: [c03, c09]}]}}\n")
    text = config() + ACTIVITIES.replace("  segments:\n", segments, 1)
    lake, paths = LocalLake(lake_root), RunPaths("20260401T000000Z-ties")
    for number, shard in enumerate(shards):
        write_parquet(lake, f"{paths.unified_folder('Customer')}/part-{number}.parquet",
                      pa.table({"CustomerId": shard, "LastName": ["Lee"] * len(shard)}))
    if measures is not None:
        write_parquet(lake, paths.enrichment("measures"), pa.Table.from_pandas(measures, preserve_index=False))
    outcome = run_enrichment(lake, load_config_text(text), paths.run_id, Enrichment.SEGMENTS)
    assert outcome.path is not None
    return read_parquet(lake, outcome.path)


def test_segment_rules_compare_date_and_time_columns_with_iso_dates(tmp_path) -> None:
    """``BirthDate < "1985-01-01"`` compared Python dates with a string ("'<' not supported between
    'datetime.date' and 'str'") and failed the run at its end; timestamps with a zone compare as well. A
    missing value meets no comparison, != and not_in included."""
    from shared.adapters.local_lake import LocalLake
    from shared.config.load import load_config_text
    from shared.enrich.run import run_enrichment
    from shared.lakeio import read_parquet, write_parquet
    from shared.names import Enrichment
    from shared.paths import RunPaths

    segments = ("  segments:\n"
                "    - {name: older, rule: {all: [{field: BirthDate, op: \"<\", value: \"1985-01-01\"}]}}\n"
                "    - {name: born_1990, rule: {all: [{field: BirthDate, op: \"=\", value: \"1990-06-01\"}]}}\n"
                "    - {name: recent, rule: {all: [{field: LastPurchase, op: \">=\", value: \"2026-03-01\"}]}}\n"
                "    - {name: listed, rule: {all: [{field: BirthDate, op: in, value: [\"1980-02-03\"]}]}}\n"
                "    - {name: new_year, rule: {all: [{field: LastPurchase, op: in, value: [\"2026-01-01\"]}]}}\n"
                "    - {name: not_1990, rule: {all: [{field: BirthDate, op: \"!=\", value: \"1990-06-01\"}]}}\n"
                "    - {name: unlisted, rule: {all: [{field: BirthDate, op: not_in, value: [\"1980-02-03\"]}]}}\n")
    lake, paths = LocalLake(tmp_path), RunPaths("20260401T000000Z-dates")
    ids = ["c0", "c1", "c2"]
    write_parquet(lake, f"{paths.unified_folder('Customer')}/part-0.parquet", pa.table({
        "CustomerId": ids,
        "BirthDate": pa.array([pd.Timestamp("1980-02-03").date(), pd.Timestamp("1990-06-01").date(), None],
                              pa.date32())}))
    last = pa.array([pd.Timestamp("2026-03-05T10:00Z"), pd.Timestamp("2026-01-01T00:00Z"), None],
                    pa.timestamp("us", tz="UTC"))
    write_parquet(lake, paths.enrichment("measures"), pa.table({
        "CustomerId": ids, "TransactionCount": [1, 1, 0], "TotalSpend": [10.0, 20.0, 0.0],
        "DaysSinceLastPurchase": [27, 90, None], "LastPurchase": last}))
    text = config() + ACTIVITIES.replace("  segments:\n", segments, 1)
    outcome = run_enrichment(lake, load_config_text(text), paths.run_id, Enrichment.SEGMENTS)
    assert outcome.path is not None
    found = dict(zip(*(read_parquet(lake, outcome.path).column(c).to_pylist() for c in ("CustomerId", "Segments")),
                     strict=True))
    assert [set((found.get(i) or "").split(";")) - {""} for i in ids] == [
        {"older", "recent", "listed", "not_1990"}, {"born_1990", "new_year", "unlisted"}, set()]  # c2: no dates
