#!/usr/bin/env python3
"""A TCP transfer whose bytes are checked end to end: `serve PORT READY` listens (then
makes the file READY), takes one connection,
reads to EOF and prints "<bytes> <sha256>"; `send HOST PORT BYTES` sends that many
pseudo-random bytes (seeded, so both ends could agree) and prints the same line for what
it sent. Equal lines mean every byte arrived, in order."""
import hashlib
import random
import socket
import sys


def serve(port, ready):
    family = socket.AF_INET6
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.bind(("::", port))
        s.listen(1)
        open(ready, "w").close()
        s.settimeout(60)
        conn, _ = s.accept()
        h, n = hashlib.sha256(), 0
        with conn:
            conn.settimeout(60)
            while True:
                b = conn.recv(1 << 16)
                if not b:
                    break
                h.update(b)
                n += len(b)
        print(n, h.hexdigest())


def send(host, port, total):
    rng = random.Random(7447)
    h, n = hashlib.sha256(), 0
    with socket.create_connection((host, port), timeout=60) as s:
        while n < total:
            b = rng.randbytes(min(1 << 16, total - n))
            s.sendall(b)
            h.update(b)
            n += len(b)
    print(n, h.hexdigest())


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(int(sys.argv[2]), sys.argv[3])
    else:
        send(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
