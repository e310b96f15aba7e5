#!/usr/bin/env python3
"""Checks the draw of a boxoffice virtual queue from its public endpoints alone.

    python3 scripts/verify_draw.py BASE_URL EVENT_ID [ENTRY_ID]

It fetches GET /api/events/EVENT_ID/queue (the commitment, published before the sale) and
GET /api/events/EVENT_ID/queue/draw (the seed and the drawn order), then checks that the seed
hashes to the commitment and that sorting the entries by SHA-256(seed bytes || entry id as UTF-8)
gives the published order. With ENTRY_ID it also says where that entry was drawn. Exit status 0
when everything matches, 1 otherwise. Standard library only.
"""
import hashlib
import json
import sys
import urllib.request


def fetch(base, event, path):
    with urllib.request.urlopen(f"{base}/api/events/{event}/queue{path}") as reply:
        return json.load(reply)


def main(argv):
    if len(argv) not in (3, 4):
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    base, event = argv[1].rstrip("/"), argv[2]
    queue, draw = fetch(base, event, ""), fetch(base, event, "/draw")
    seed = bytes.fromhex(draw["seed"])
    checks = {
        "the seed is 32 bytes": len(seed) == 32,
        "SHA-256(seed) is the published commitment": hashlib.sha256(seed).hexdigest() == queue["seed_commitment"],
        "the queue reveals the same seed": queue.get("seed") == draw["seed"],
        f"the {len(draw['entries'])} entries are in SHA-256(seed || id) order": draw["entries"]
        == sorted(draw["entries"], key=lambda entry: hashlib.sha256(seed + entry.encode("utf-8")).digest()),
    }
    for what, ok in checks.items():
        print(f"{'ok  ' if ok else 'FAIL'} {what}")
    if len(argv) == 4:
        entry = argv[3]
        place = draw["entries"].index(entry) + 1 if entry in draw["entries"] else None
        print(f"{'ok  ' if place else 'FAIL'} entry {entry} " + (f"was drawn at place {place}" if place else "is not in the draw"))
        checks["entry"] = bool(place)
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
