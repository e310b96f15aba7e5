#!/usr/bin/env python3
"""What an open live stream costs the API in memory.

Starts `boxoffice serve` (from target/release) on DATABASE_URL, a migrated database with a catalog
(`boxoffice migrate`, `boxoffice import examples/catalog`), opens N streams over plain sockets and
prints the API's resident memory before and after, and the difference per stream.

    bench/stream_memory.py 5000 /api/representations/rep_001/availability/stream
"""
import sys
import time

import local_api

streams, path = int(sys.argv[1]), sys.argv[2]
port = 8911
api = local_api.start(port)


def rss_mib():
    with open(f"/proc/{api.pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024


before = rss_mib()
opened = local_api.open_streams(port, path, streams)
time.sleep(3)
for s in opened:  # each has its first event: read it, so nothing waits to be sent
    s.setblocking(False)
    try:
        while s.recv(65536):
            pass
    except BlockingIOError:
        pass
time.sleep(1)
after = rss_mib()
print(f"{streams} streams of {path}: RSS {before:.1f} -> {after:.1f} MiB, "
      f"{(after - before) * 1024 / streams:.1f} KiB per stream")
api.terminate()
api.wait()
