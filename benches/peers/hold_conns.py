#!/usr/bin/env python3
"""Open N idle HTTP/1.1 keep-alive connections to a proxy and hold them.

Used by benches/memory.sh: connects N sockets to HOST:PORT, sends one keep-alive
`GET PATH` on each (at most WINDOW requests in flight, like a load generator with WINDOW
connections busy, so that each proxy opens a comparable handful of upstream connections),
reads every response completely, then prints `holding N` on stdout and keeps the
connections open, idle, until it gets SIGTERM or SIGINT. Exits 1 with a
message on stderr if a connection fails or a response is not 2xx.

Standard library only (socket, selectors).
"""

import argparse
import resource
import selectors
import signal
import socket
import struct
import sys
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("port", type=int)
    p.add_argument("-n", "--connections", type=int, default=10_000)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--path", default="/json")
    p.add_argument("--window", type=int, default=64, help="requests in flight at once")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds for the whole setup")
    return p.parse_args()


def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = need if hard == resource.RLIM_INFINITY else min(need, hard)
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < need:
        sys.exit(f"hold_conns: need {need} file descriptors, the limit is {soft} (ulimit -n)")


class Conn:
    __slots__ = ("sock", "buf", "done")

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.done = False

    def response_complete(self):
        """True once buf holds a whole response (Content-Length or chunked)."""
        head_end = self.buf.find(b"\r\n\r\n")
        if head_end < 0:
            return False
        head = self.buf[:head_end].decode("latin-1").lower().split("\r\n")
        status = head[0].split(" ", 2)
        if len(status) < 2 or not status[1].startswith("2"):
            raise RuntimeError(f"unexpected response: {head[0]!r}")
        body = self.buf[head_end + 4:]
        for line in head[1:]:
            name, _, value = line.partition(":")
            name, value = name.strip(), value.strip()
            if name == "content-length":
                return len(body) >= int(value)
            if name == "transfer-encoding" and "chunked" in value:
                return body.endswith(b"0\r\n\r\n")
        raise RuntimeError("response with neither Content-Length nor chunked encoding")


def main():
    args = parse_args()
    raise_nofile(args.connections + 64)
    deadline = time.monotonic() + args.timeout
    request = (
        f"GET {args.path} HTTP/1.1\r\nHost: {args.host}:{args.port}\r\n"
        "User-Agent: hold_conns\r\nAccept: */*\r\n\r\n"
    ).encode()
    # Close with RST at exit: no TIME_WAIT left behind for the next proxy's run.
    linger = struct.pack("ii", 1, 0)

    conns = []
    for _ in range(args.connections):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.settimeout(max(1.0, deadline - time.monotonic()))
        try:
            s.connect((args.host, args.port))
        except OSError as e:
            sys.exit(f"hold_conns: connection {len(conns) + 1} failed: {e}")
        s.setblocking(False)
        conns.append(Conn(s))

    sel = selectors.DefaultSelector()
    pending = iter(conns)
    in_flight = 0
    finished = 0

    def send_next():
        nonlocal in_flight
        c = next(pending, None)
        if c is None:
            return
        c.sock.sendall(request)  # small; fits the empty send buffer of a fresh socket
        sel.register(c.sock, selectors.EVENT_READ, c)
        in_flight += 1

    for _ in range(min(args.window, len(conns))):
        send_next()
    while finished < len(conns):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            sys.exit(f"hold_conns: timed out with {finished}/{len(conns)} responses read")
        for key, _ in sel.select(timeout=remaining):
            c = key.data
            try:
                chunk = c.sock.recv(65536)
            except BlockingIOError:
                continue
            if not chunk:
                sys.exit(f"hold_conns: the server closed a connection ({finished} responses read)")
            c.buf += chunk
            try:
                complete = c.response_complete()
            except RuntimeError as e:
                sys.exit(f"hold_conns: {e}")
            if complete:
                sel.unregister(c.sock)
                c.buf = b""
                c.done = True
                finished += 1
                in_flight -= 1
                send_next()

    print(f"holding {len(conns)}", flush=True)

    stop = False

    def on_signal(_signum, _frame):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # Idle until told to stop; also notice a server closing connections meanwhile.
    for c in conns:
        sel.register(c.sock, selectors.EVENT_READ, c)
    closed = 0
    while not stop:
        for key, _ in sel.select(timeout=0.5):
            try:
                data = key.data.sock.recv(4096)
            except OSError:
                data = b""
            if not data:
                sel.unregister(key.fileobj)
                closed += 1
    if closed:
        print(f"hold_conns: the server closed {closed} of the idle connections", file=sys.stderr)
    for c in conns:
        c.sock.close()


if __name__ == "__main__":
    main()
