#!/usr/bin/env python3
"""What a correct consumer of pos-producer's topics computes, checked against the truth file.

Usage: consumer_check.py TRUTH.json TRANSACTIONS.jsonl REFUNDS.jsonl [read_committed|read_uncommitted]

Each .jsonl line is one record as `kcat -C -J` prints it (`ts`, `key`, `payload`, `headers`
as a flat [key, value, ...] list). Python standard library only; nothing of the producer's.

A correct consumer, the way the downstream Spark job should behave:
  - rejects a record that is not a contract event (not JSON, a field missing, a field of the
    wrong type), as from_json would turn it into nulls;
  - keeps each event once (a duplicate has the id of an event already kept);
  - drops an event whose timestamp is at or before its topic's watermark: the newest
    timestamp seen before it minus the truth file's `watermark_seconds` (events are taken in
    id order, the order they were made; the producer holds an event back by a few events at
    most, far less than a watermark);
  - sums sales and revenue, refunds and refunded amount, per product and event-time window.
It then compares with the truth file's `windows_kept`, `dropped_by_watermark` and `faults`,
and with the `pos-fault` header of each rejected or repeated record. Exit 0 when all agree;
1 with one line per difference.

The isolation level the records were read with (read_committed by default): read committed,
no record of an aborted transaction may be there; read uncommitted, the records of the
transactions aborted on purpose (`pos-fault: aborted`, PRODUCER_ABORT_PROBABILITY) must be
exactly those the truth's `faults.aborted` names, and a correct consumer leaves them out: a
sink that counted them would count those events twice.
"""

import json
import sys
from datetime import datetime, timezone
from decimal import Decimal

SALE = {
    "transaction_id": int,
    "product_id": str,
    "store_id": str,
    "customer_id": str,
    "amount": (int, Decimal),
    "timestamp": str,
}
REFUND = {
    "refund_id": int,
    "original_transaction_id": int,
    "product_id": str,
    "store_id": str,
    "customer_id": str,
    "refund_amount": (int, Decimal),
    "reason": str,
    "timestamp": str,
}


def event(payload, schema):
    """The event in `payload` if it follows the contract's schema, else None."""
    try:
        value = json.loads(payload, parse_float=Decimal)
    except (ValueError, TypeError):
        return None
    if not isinstance(value, dict) or list(value) != list(schema):
        return None
    for name, kind in schema.items():
        if isinstance(value[name], bool) or not isinstance(value[name], kind):
            return None
    try:
        at = datetime.strptime(value["timestamp"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
    except ValueError:
        return None
    value["_ms"] = int(at.timestamp()) * 1000
    return value


def cents(amount):
    return int(Decimal(amount) * 100)


def text(ms):
    return datetime.fromtimestamp(ms // 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def fault(record):
    """Every fault named by the record's `pos-fault` headers (an aborted copy may carry two)."""
    flat = record.get("headers") or []
    names = set()
    for key, value in zip(flat[0::2], flat[1::2]):
        if key == "pos-fault":
            names.update(filter(None, (value or "").split(",")))
    return names


def consume(path, schema, id_field, amount_field, width_ms, watermark_ms, problems, topic, aborted):
    """`aborted`: the truth's aborted ids of this topic under read_uncommitted, else None."""
    records = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
    left_out = []
    for r in records:
        if "aborted" in fault(r):
            e = event(r["payload"], schema)
            left_out.append(e[id_field] if e else None)
    records = [r for r in records if "aborted" not in fault(r)]
    if aborted is None and left_out:
        problems.append(f"{topic}: {len(left_out)} records of aborted transactions read committed")
    elif aborted is not None:
        if len(left_out) != len(aborted):
            problems.append(f"{topic}: {len(left_out)} records of aborted transactions, truth {len(aborted)}")
        stray = sorted(set(i for i in left_out if i is not None) - set(aborted))
        if stray:
            problems.append(f"{topic}: aborted records {stray[:5]} not in the truth's faults.aborted")
    events, seen = [], set()
    rejected, repeated = [], []
    for r in records:
        e = event(r["payload"], schema)
        if e is None:
            rejected.append(r)
            if "malformed" not in fault(r):
                problems.append(f"{topic}: a record rejected without pos-fault: malformed: {r['payload']!r}")
            continue
        if e[id_field] in seen:
            repeated.append(e[id_field])
            if "duplicate" not in fault(r):
                problems.append(f"{topic}: {id_field} {e[id_field]} repeated without pos-fault: duplicate")
            continue
        if r["ts"] != e["_ms"]:
            problems.append(f"{topic}: {id_field} {e[id_field]}: record timestamp {r['ts']} is not its JSON's")
        seen.add(e[id_field])
        events.append(e)
    events.sort(key=lambda e: e[id_field])
    newest, dropped, windows = None, [], {}
    for e in events:
        if newest is not None and e["_ms"] <= newest - watermark_ms:
            dropped.append(e[id_field])
        else:
            start = e["_ms"] // width_ms * width_ms
            n, total = windows.get((start, e["product_id"]), (0, 0))
            windows[(start, e["product_id"])] = (n + 1, total + cents(e[amount_field]))
        newest = e["_ms"] if newest is None else max(newest, e["_ms"])
    return windows, sorted(dropped), sorted(repeated), len(rejected), len(left_out)


def main(argv):
    if len(argv) not in (4, 5) or (len(argv) == 5 and argv[4] not in ("read_committed", "read_uncommitted")):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    uncommitted = len(argv) == 5 and argv[4] == "read_uncommitted"
    truth = json.load(open(argv[1], encoding="utf-8"))
    width_ms = truth["window_seconds"] * 1000
    watermark_ms = truth["watermark_seconds"] * 1000
    problems = []
    for topic, path, schema, id_field, amount_field, count, amount, ids in [
        ("transactions", argv[2], SALE, "transaction_id", "amount", "transactions", "amount_cents", "transactions"),
        ("refunds", argv[3], REFUND, "refund_id", "refund_amount", "refunds", "refund_amount_cents", "refunds"),
    ]:
        aborted = truth["faults"].get("aborted", {}).get(ids, []) if uncommitted else None
        windows, dropped, repeated, rejected, left_out = consume(
            path, schema, id_field, amount_field, width_ms, watermark_ms, problems, topic, aborted
        )
        want = {}
        for w in truth["windows_kept"]:
            start = int(datetime.strptime(w["start"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc).timestamp())
            for product, sums in w["products"].items():
                if sums[count]:
                    want[(start * 1000, product)] = (sums[count], sums[amount])
        for key in sorted(set(want) | set(windows)):
            if want.get(key) != windows.get(key):
                problems.append(
                    f"{topic}: window {text(key[0])} {key[1]}: consumer {windows.get(key)}, truth {want.get(key)}"
                )
        if dropped != sorted(truth["dropped_by_watermark"][ids]):
            problems.append(f"{topic}: dropped by the watermark {dropped}, truth {truth['dropped_by_watermark'][ids]}")
        if repeated != sorted(truth["faults"]["duplicate"][ids]):
            problems.append(f"{topic}: duplicates {repeated}, truth {truth['faults']['duplicate'][ids]}")
        broken = sum(len(v[ids]) for k, v in truth["faults"]["malformed"].items() if k != "count")
        if rejected != broken:
            problems.append(f"{topic}: {rejected} records rejected, truth has {broken} malformed")
        print(
            f"{topic}: {len(windows)} product windows agree with the truth file; "
            f"{len(dropped)} events dropped by the {truth['watermark_seconds']} s watermark, "
            f"{len(repeated)} duplicates absorbed, {rejected} malformed records rejected, "
            f"{left_out} records of aborted transactions left out"
            if not problems
            else f"{topic}: checked"
        )
    for p in problems:
        print(f"MISMATCH {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
