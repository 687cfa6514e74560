#!/usr/bin/env python3
"""Sends hand-made malformed vrouter requests that no well-behaved client can produce and
checks the kernel rejects them with EINVAL. Usage: raw_genl.py wrong-length|unknown-attr"""
import os, socket, struct, sys

NETLINK_GENERIC, GENL_ID_CTRL, CTRL_CMD_GETFAMILY = 16, 0x10, 3
CTRL_ATTR_FAMILY_ID, CTRL_ATTR_FAMILY_NAME = 1, 2
NLM_F_REQUEST, NLM_F_ACK, NLMSG_ERROR = 1, 4, 2
VIF_NEW, VIF_ATTR_TYPE, VIF_ATTR_NAME = 1, 2, 4  # kmod/uapi/src/wire.rs

def attr(kind, payload):
    a = struct.pack("HH", 4 + len(payload), kind) + payload
    return a + b"\0" * (-len(a) % 4)

def request(sock, family, cmd, attrs, seq):
    body = struct.pack("BBH", cmd, 1, 0) + b"".join(attrs)
    sock.send(struct.pack("IHHII", 16 + len(body), family, NLM_F_REQUEST | NLM_F_ACK, seq, 0) + body)
    while True:
        data = sock.recv(65536)
        off = 0
        while off < len(data):
            length, kind, _, rseq, _ = struct.unpack_from("IHHII", data, off)
            if rseq == seq:
                if kind == NLMSG_ERROR:
                    return -struct.unpack_from("i", data, off + 16)[0], data[off:off + length]
                yield_ = data[off + 20:off + length]
                if cmd == CTRL_CMD_GETFAMILY:
                    return 0, yield_
            off += (length + 3) & ~3

def family_id(sock):
    err, payload = request(sock, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, [attr(CTRL_ATTR_FAMILY_NAME, b"vrouter\0")], 1)
    assert err == 0, f"vrouter family not found ({err})"
    off = 0
    while off < len(payload):
        length, kind = struct.unpack_from("HH", payload, off)
        if kind == CTRL_ATTR_FAMILY_ID:
            return struct.unpack_from("H", payload, off + 4)[0]
        off += (length + 3) & ~3
    raise SystemExit("no family id")

def main():
    case = sys.argv[1]
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
    sock.bind((0, 0))
    fam = family_id(sock)
    if case == "wrong-length":
        attrs = [attr(VIF_ATTR_TYPE, struct.pack("H", 3)), attr(VIF_ATTR_NAME, b"lo\0")]
    elif case == "unknown-attr":
        attrs = [attr(VIF_ATTR_TYPE, struct.pack("I", 3)), attr(200, struct.pack("I", 1))]
    else:
        raise SystemExit(f"unknown case {case}")
    err, _ = request(sock, fam, VIF_NEW, attrs, 2)
    print(f"{case}: errno {err}")
    sys.exit(0 if err == 22 else 1)

main()
