#!/usr/bin/env python3
"""Detection rate of RESTRICTED values in images (issue 20).

Generates COUNT images (tests/media/media_fixtures.py detection_set: a random
valid SIN under an English or French label, or a random Luhn-valid card
number; upright, turned 90 or 180 degrees, skewed 3-5 degrees, faint grey on
grey, small 20 pt type, or JPEG) and reads each with `aegis redact --json`,
the gateway's own reading and classification. An image counts as detected
when its level is RESTRICTED with the expected entity type found. Then
NEGATIVES images holding numbers that are not RESTRICTED (phone numbers,
dates, amounts, order numbers, a 9-digit reference without a SIN word) count
the false RESTRICTED verdicts (each costs a request that runs locally).

  bench/media/detection_rate.py [--count 120] [--negatives 60] [--seed 20] [--bin build/aegis]
"""
import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "media"))
import media_fixtures  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=120)
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--negatives", type=int, default=60)
    parser.add_argument("--bin", default=os.environ.get("AEGIS_BIN", os.path.join(HERE, "..", "..", "build", "aegis")))
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="aegis-detect-")
    images = media_fixtures.detection_set(work, args.count, args.seed)
    by_variant = collections.defaultdict(lambda: [0, 0])
    by_type = collections.defaultdict(lambda: [0, 0])
    missed = []
    started = time.monotonic()
    for path, entity, variant in images:
        out = subprocess.run([args.bin, "redact", path, "-o", path + ".out.png", "--json"],
                             capture_output=True, text=True, check=True)
        report = json.loads(out.stdout)
        found = report["level"] == "RESTRICTED" and entity in {f["type"] for f in report["findings"]}
        for table, key in ((by_variant, variant), (by_type, entity)):
            table[key][0] += found
            table[key][1] += 1
        if not found:
            missed.append(os.path.basename(path))
    elapsed = time.monotonic() - started
    total = sum(v[0] for v in by_type.values())
    print(f"detected {total}/{len(images)} ({100.0 * total / len(images):.1f} %), "
          f"{elapsed / len(images):.2f} s per image (process start and OCR engines included)")
    for title, table in (("variant", by_variant), ("type", by_type)):
        print(f"\n| {title} | detected | of | rate |\n|---|---|---|---|")
        for key in sorted(table):
            hit, of = table[key]
            print(f"| {key} | {hit} | {of} | {100.0 * hit / of:.0f} % |")
    if missed:
        print("\nmissed:", " ".join(missed))
    # False alarms: images with numbers that are not RESTRICTED.
    flagged = []
    for path, variant in media_fixtures.negative_set(work, args.negatives, args.seed + 1):
        out = subprocess.run([args.bin, "redact", path, "-o", path + ".out.png", "--json"],
                             capture_output=True, text=True, check=True)
        if json.loads(out.stdout)["level"] == "RESTRICTED":
            flagged.append(os.path.basename(path))
    print(f"\nfalse RESTRICTED: {len(flagged)}/{args.negatives} images without a RESTRICTED value"
          + (": " + " ".join(flagged) if flagged else ""))
    print(f"\nimages kept in {work}")


if __name__ == "__main__":
    main()
