"""Orders and order lines per channel, from a Pareto/NBD-like purchase process per person."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa

from c360_cli.demo import vocab
from c360_cli.demo.people import People

if TYPE_CHECKING:
    from c360_cli.demo.generator import DemoSpec

CHANNELS = {"erp": 0.2, "pos": 0.45, "ecom": 0.35}
LINES_AT_ONCE = 1 << 20


def _person_keys(records: pd.DataFrame, people: int, rng: np.random.Generator) -> np.ndarray:
    """For each person, the key of one record (a duplicate record 30% of the time), else None."""
    frame = pd.DataFrame({"pid": records["person_id"].str[1:].astype(np.int64) - 1, "key": records["key"]})
    frame = frame.sample(frac=1.0, random_state=int(rng.integers(0, 2**31)))
    first = frame.drop_duplicates("pid", keep="first").set_index("pid")["key"]
    last = frame.drop_duplicates("pid", keep="last").set_index("pid")["key"]
    keys = np.full(people, None, dtype=object)
    pick_last = rng.random(len(first)) < 0.3
    keys[first.index.to_numpy()] = np.where(pick_last, last.reindex(first.index).to_numpy(), first.to_numpy())
    return keys


def make_activities(people: People, records: dict[str, pd.DataFrame], rng: np.random.Generator,
                    spec: DemoSpec) -> dict[str, tuple[pa.Table, str]]:
    n = len(people.frame)
    keys = {c: _person_keys(records[c], n, rng) for c in CHANNELS}
    weights = np.column_stack([np.where(pd.notna(keys[c]), w, 0.0) for c, w in CHANNELS.items()])
    buyers = weights.sum(axis=1) > 0
    end = np.datetime64(spec.as_of, "s")
    span_days = 365.25 * spec.years
    rate = rng.gamma(0.9, 2.4, n)  # purchases per year
    dropout = rng.gamma(0.8, 0.45, n)  # per year
    spend = rng.gamma(3.0, 0.35, n)  # price-level multiplier
    start_days = rng.uniform(0, span_days - 7, n)
    life_days = np.minimum(span_days - start_days, rng.exponential(365.25 / np.maximum(dropout, 1e-3)))
    count = np.where(buyers, 1 + rng.poisson(rate * life_days / 365.25), 0)
    person = np.repeat(np.arange(n), count)
    offset = np.where(np.r_[True, person[1:] != person[:-1]], 0.0, rng.random(len(person)) * life_days[person])
    when = end - ((span_days - start_days[person] - offset) * 86400).astype("timedelta64[s]")
    channel_weights = weights[person] / weights[person].sum(axis=1, keepdims=True)
    channel = (rng.random(len(person))[:, None] > np.cumsum(channel_weights, axis=1)).sum(axis=1)
    np.asarray(list(CHANNELS))[channel]

    brand_pop = np.asarray([b[2] for b in vocab.BRANDS], dtype=float)
    preference = rng.dirichlet(np.full(len(vocab.BRANDS), 0.35), n) * 0.7 + 0.3 * brand_pop / brand_pop.sum()
    lines_per = 1 + rng.poisson(1.3, len(person))
    line_order = np.repeat(np.arange(len(person)), lines_per)
    line_person = person[line_order]
    draw = rng.random(len(line_order))
    brand = np.empty(len(line_order), dtype=np.int64)
    for start in range(0, len(line_order), LINES_AT_ONCE):  # a line-by-brand matrix of all lines took 18 GB at 5 M
        part = slice(start, start + LINES_AT_ONCE)
        brand[part] = (draw[part, None] > np.cumsum(preference[line_person[part]], axis=1)).sum(axis=1)
    brand = brand.clip(0, len(vocab.BRANDS) - 1)
    low = np.asarray([b[3][0] for b in vocab.BRANDS], dtype=float)[brand]
    high = np.asarray([b[3][1] for b in vocab.BRANDS], dtype=float)[brand]
    price = np.round(np.clip(rng.uniform(low, high) * (0.6 + 0.4 * spend[line_person]), 1, None), 2)
    qty = 1 + rng.poisson(0.25, len(line_order))
    qty = np.where(rng.random(len(line_order)) < 0.03, -qty, qty)  # returns
    amount = np.round(price * qty, 2)
    noun_index = rng.integers(0, 100, len(line_order))
    # per (brand, noun index): the product noun, its description and SKU, looked up rather than built per line
    # (tens of millions of lines at 5 M people), the same strings shared by every line that has them
    nouns = [vocab.PRODUCT_NOUNS[b[1]] for b in vocab.BRANDS]
    noun_of = np.asarray([[n[i % len(n)] for i in range(100)] for n in nouns], dtype=object)
    description_of = np.asarray([[f"{b[0]} {noun}" for noun in row] for b, row in zip(vocab.BRANDS, noun_of,
                                                                                       strict=True)], dtype=object)
    sku_of = np.asarray([[f"{str(k).zfill(2)}-{i % 7}" for i in range(100)] for k in range(len(vocab.BRANDS))],
                        dtype=object)
    brand_name = np.asarray([b[0] for b in vocab.BRANDS], dtype=object)[brand]
    description = description_of[brand, noun_index]
    sku = sku_of[brand, noun_index]
    line_no = np.arange(len(line_order)) - np.repeat(np.cumsum(lines_per) - lines_per, lines_per) + 1
    order_total = np.round(np.bincount(line_order, weights=amount, minlength=len(person)), 2)

    out: dict[str, tuple[pa.Table, str]] = {}
    for index, name in enumerate(CHANNELS):
        orders = np.flatnonzero(channel == index)
        number = np.arange(len(orders)) + 1
        order_ids = {"erp": pd.Series(number).map("SO{:08d}".format).to_numpy(),
                     "pos": number + 90_000_000, "ecom": pd.Series(number).map("W{:09d}".format).to_numpy()}[name]
        id_of_order = np.full(len(person), None, dtype=object)
        id_of_order[orders] = order_ids
        lines = np.flatnonzero(channel[line_order] == index)
        cust = keys[name][person[orders]]
        ts = pd.to_datetime(when[orders])
        if name == "erp":
            out["erp/orders"] = (pa.table({"OrderNo": order_ids, "CustomerNo": cust, "OrderDate": ts.strftime(
                "%Y-%m-%d %H:%M:%S"), "TotalAmount": order_total[orders], "Currency": ["USD"] * len(orders)}), "csv")
            out["erp/order_lines"] = (pa.table({
                "OrderNo": id_of_order[line_order[lines]], "LineNo": line_no[lines], "Sku": sku[lines],
                "Description": description[lines], "Brand": brand_name[lines],
                "Qty": qty[lines], "UnitPrice": price[lines], "LineTotal": amount[lines]}), "csv")
        elif name == "pos":
            out["pos/receipts"] = (pa.table({"ReceiptId": pa.array(order_ids.astype(np.int64)),
                                             "MemberId": pa.array(cust.astype(np.int64)),
                                             "Timestamp": pa.array(ts.to_numpy()),
                                             "Amount": order_total[orders],
                                             "StoreId": rng.integers(1, 60, len(orders))}), "parquet")
            out["pos/receipt_lines"] = (pa.table({
                "ReceiptId": pa.array(id_of_order[line_order[lines]].astype(np.int64)), "LineNo": line_no[lines],
                "Sku": sku[lines], "Brand": brand_name[lines], "Quantity": qty[lines], "Price": price[lines],
                "Total": amount[lines]}), "parquet")
        else:
            out["ecom/orders"] = (pa.table({"order_id": order_ids, "account_id": cust,
                                            "placed_at": ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                            "total": order_total[orders]}), "jsonl")
            out["ecom/order_lines"] = (pa.table({
                "order_id": id_of_order[line_order[lines]], "line": line_no[lines], "sku": sku[lines],
                "product_name": description[lines], "brand": brand_name[lines],
                "qty": qty[lines], "unit_price": price[lines], "amount": amount[lines]}), "jsonl")
    return out
