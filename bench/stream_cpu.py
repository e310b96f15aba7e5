#!/usr/bin/env python3
"""What one live event costs the API in CPU.

Starts `boxoffice serve` (from target/release) on DATABASE_URL, a migrated database with a catalog
(`boxoffice migrate`, `boxoffice import examples/catalog`), opens N availability streams of rep_001
over plain sockets (read only at the end, as a remote browser's reading costs this machine
nothing), changes rep_001's pools R times, five times a second, and prints the events delivered
and the API's user and system CPU time per event (from /proc).

    bench/stream_cpu.py 10000 50
"""
import os
import subprocess
import sys
import time

import local_api

streams, changes = int(sys.argv[1]), int(sys.argv[2])
port = 8912
ticks = os.sysconf("SC_CLK_TCK")
api = local_api.start(port)


def cpu_seconds():
    fields = open(f"/proc/{api.pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[11]) / ticks, int(fields[12]) / ticks


def events_read(sockets):
    events = 0
    for s in sockets:
        s.setblocking(False)
        try:
            while chunk := s.recv(1 << 20):
                events += chunk.count(b"event: availability")
        except BlockingIOError:
            pass
    return events


opened = local_api.open_streams(port, "/api/representations/rep_001/availability/stream", streams, 1 << 20)
time.sleep(3)
events_read(opened)  # the first events
user, system = cpu_seconds()
started = time.time()
subprocess.run(["psql", os.environ["DATABASE_URL"], "-qc",
                f"do $$ begin for i in 1..{changes} loop "
                "update pools set seats_version = seats_version + 1 where representation_id = 'rep_001'; "
                "commit; perform pg_sleep(0.2); end loop; end $$"], check=True)
time.sleep(1)
user_after, system_after = cpu_seconds()
events = events_read(opened)
print(f"{streams} streams, {changes} changes: {events} events in {time.time() - started:.1f} s; "
      f"API CPU per event: user {(user_after - user) * 1e6 / events:.1f} us, "
      f"system {(system_after - system) * 1e6 / events:.1f} us")
api.terminate()
api.wait()
