"""`boxoffice serve` from target/release on DATABASE_URL, for the stream scripts beside this file:
started on a port of its own without the per-address rate limit (so many streams from one address
stand for as many browsers), and streams opened to it over plain sockets."""
import os
import socket
import subprocess
import time


def start(port):
    """The API, once it accepts connections."""
    env = dict(os.environ, BIND_ADDR=f"127.0.0.1:{port}", RATE_LIMIT_PER_IP="off", RUST_LOG="warn")
    api = subprocess.Popen(["target/release/boxoffice", "serve"], env=env)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port)).close()
            return api
        except OSError:
            time.sleep(0.1)
    api.kill()
    raise SystemExit(f"the API did not listen on port {port} within 10 s")


def open_streams(port, path, count, receive_buffer=None):
    """`count` streams of `path`, each asked for and left to the caller to read."""
    opened = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port))
        if receive_buffer:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
        opened.append(s)
    return opened
