#!/usr/bin/env python3
"""What an open live stream costs the API in memory.

Starts `boxoffice serve` (from target/release) on DATABASE_URL, a migrated database with a catalog
(`boxoffice migrate`, `boxoffice import examples/catalog`), opens N streams over plain sockets and
prints the API's resident memory before and after, and the difference per stream.

    bench/stream_memory.py 5000 /api/representations/rep_001/availability/stream
"""
import os
import socket
import subprocess
import sys
import time

streams, path = int(sys.argv[1]), sys.argv[2]
port = 8911
env = dict(os.environ, BIND_ADDR=f"127.0.0.1:{port}", RATE_LIMIT_PER_IP="off", RUST_LOG="warn")
api = subprocess.Popen(["target/release/boxoffice", "serve"], env=env)


def rss_mib():
    with open(f"/proc/{api.pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024


for _ in range(100):
    try:
        socket.create_connection(("127.0.0.1", port)).close()
        break
    except OSError:
        time.sleep(0.1)
before = rss_mib()
opened = []
for _ in range(streams):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    opened.append(s)
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
