#!/usr/bin/env python3
"""SIEM export throughput: `aegis audit export --once` over N audit rows in a
SQLite store, to each sink (a JSON Lines file, a syslog receiver over TCP, a
HEC receiver over HTTP; the receivers are tests/integration/test_audit_export.py's).

The rows are written straight into the audit table (the schema made by the
binary itself): one chain, seqs 1..N, fake hashes (the exporter does not check
them). Prints rows/s per sink.

    bench/audit_export/run.py [--rows 200000] [--batch-rows 500] [--bin build/aegis]
"""
import argparse
import os
import re
import sqlite3
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from test_audit_export import HEC_TOKEN, HecReceiver, SyslogReceiver  # noqa: E402


def fill(db, rows):
    conn = sqlite3.connect(db)
    conn.execute("BEGIN")
    chunk = []
    prev = "0" * 64
    for seq in range(1, rows + 1):
        row_hash = f"{seq:064x}"
        chunk.append((1_796_601_600_000 + seq, f"req_bench_{seq}", "bench", "key_bench", "openai.chat", "general",
                      "CONFIDENTIAL", '{"EMAIL":1}', 1, "sonnet", "anthropic", "claude-sonnet-4-5", "cloud",
                      "default route", '["anthropic:ok"]', 200, "", 120, 40, 2100, "2026-12", 180000, 900, 0, 0,
                      "bench/2026-12", seq, prev, row_hash))
        prev = row_hash
        if len(chunk) == 10_000:
            insert(conn, chunk)
            chunk = []
    insert(conn, chunk)
    conn.execute("COMMIT")
    conn.close()


def insert(conn, chunk):
    conn.executemany(
        "INSERT INTO audit (time_ms, request_id, team, key_id, surface, task, level, entities, placeholders, tier, "
        "provider, model, locality, reason, fallback_path, status, error_type, input_tokens, output_tokens, "
        "cost_micros, budget_period, latency_us, overhead_us, invented_pii, egress_blocked, chain_id, chain_seq, "
        "prev_hash, row_hash) VALUES (" + ",".join("?" * 29) + ")", chunk)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--batch-rows", type=int, default=500)
    parser.add_argument("--bin", default=os.environ.get("AEGIS_BIN", os.path.join(ROOT, "build", "aegis")))
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="aegis-export-bench-")
    db = os.path.join(work, "aegis.db")
    storage = f"storage:\n  sqlite_path: {db}\n"
    base = os.path.join(work, "base.yaml")
    with open(base, "w") as f:
        f.write(storage)
    # The binary makes the schema (migrations) when it opens the store.
    subprocess.run([args.bin, "admin", "--config", base, "teams", "list"], check=True, capture_output=True)
    fill(db, args.rows)

    syslog, hec = SyslogReceiver().start(), HecReceiver().start()
    sinks = {
        "jsonl": f"    type: jsonl\n    path: {work}/audit.jsonl\n    rotate_bytes: 0\n",
        "syslog": f"    type: syslog\n    host: 127.0.0.1\n    port: {syslog.port}\n",
        "http": f"    type: http\n    url: http://127.0.0.1:{hec.port}/services/collector/event\n"
                "    token_env: AEGIS_BENCH_HEC_TOKEN\n",
    }
    print(f"| sink | rows | seconds | rows/s |  (batch_rows {args.batch_rows}, SQLite)")
    print("|---|---|---|---|")
    for name, sink in sinks.items():
        config = os.path.join(work, f"{name}.yaml")
        with open(config, "w") as f:
            f.write(storage + "audit:\n  export:\n" + sink +
                    f"    batch_rows: {args.batch_rows}\n    cursor_file: {work}/{name}.cursor\n")
        r = subprocess.run([args.bin, "audit", "export", "--config", config, "--once"], capture_output=True,
                           text=True, env=dict(os.environ, AEGIS_BENCH_HEC_TOKEN=HEC_TOKEN))
        if r.returncode != 0:
            sys.exit(f"{name}: {r.stderr}")
        match = re.search(r"exported (\d+) rows and \d+ checkpoints in ([\d.e-]+) s", r.stdout)
        rows, seconds = int(match.group(1)), float(match.group(2))
        print(f"| {name} | {rows} | {seconds:.2f} | {rows / seconds:,.0f} |")
    syslog.stop()
    hec.stop()
    assert len(syslog.rows()) == args.rows and len(hec.rows()) == args.rows
    subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
