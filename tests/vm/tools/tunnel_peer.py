#!/usr/bin/env python3
"""The far end of an overlay tunnel, written from the RFCs and independent of vrouter's
code: it speaks MPLSoUDP (RFC 7510), MPLSoGRE (RFC 4023) and VXLAN (RFC 7348) over IPv4
on a raw socket, standing for another node's vRouter in a network namespace.

  ping:    sends ICMP echo requests from --src to --dst inside the tunnel (label --label)
           and waits for the encapsulated replies.
  answer:  answers the encapsulated echo requests it receives (through the tunnel, with
           label --label) until --count were answered or the time runs out.
  spoof:   sends one echo request with --label and expects no answer.

It checks every tunnel packet it receives (outer addresses, UDP destination port, GRE
protocol, bottom-of-stack bit, VXLAN I flag, the label the sender should use: --expect-
label) and prints a JSON summary; the exit status says whether all went as expected.
"""
import argparse
import json
import os
import select
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
VROUTER_MAC = bytes.fromhex("00005e000100")
PORT = {"udp": 6635, "vxlan": 4789}


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4(src, dst, proto, payload, ttl=64, ident=0):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0x4000, ttl,
                      proto, 0, socket.inet_aton(src), socket.inet_aton(dst))
    return hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:] + payload


def ipv6(src, dst, nxt, payload, hops=64):
    return struct.pack("!IHBB16s16s", 6 << 28, len(payload), nxt, hops,
                       socket.inet_pton(socket.AF_INET6, src),
                       socket.inet_pton(socket.AF_INET6, dst)) + payload


def icmp_echo(src, dst, kind, ident, seq, v6):
    body = b"vrouter-tunnel-%04d" % seq
    if v6:
        t = 128 if kind == "request" else 129
        msg = struct.pack("!BBHHH", t, 0, 0, ident, seq) + body
        pseudo = (socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst)
                  + struct.pack("!I3xB", len(msg), 58))
        msg = msg[:2] + struct.pack("!H", csum(pseudo + msg)) + msg[4:]
        return ipv6(src, dst, 58, msg)
    t = 8 if kind == "request" else 0
    msg = struct.pack("!BBHHH", t, 0, 0, ident, seq) + body
    msg = msg[:2] + struct.pack("!H", csum(msg)) + msg[4:]
    return ipv4(src, dst, 1, msg)


def encapsulate(a, inner, label, sport=49152):
    """The outer frame around an inner IP packet."""
    v6 = inner[0] >> 4 == 6
    if a.encap == "vxlan":
        eth = VROUTER_MAC + a.my_mac + struct.pack("!H", 0x86DD if v6 else 0x0800)
        body = struct.pack("!B3xI", 0x08, label << 8) + eth + inner
    else:
        body = struct.pack("!I", (label << 12) | 0x100 | 64) + inner
    if a.encap == "gre":
        outer = ipv4(a.local, a.remote, 47, struct.pack("!HH", 0, 0x8847) + body)
    else:
        udp = struct.pack("!HHHH", sport, PORT[a.encap], 8 + len(body), 0) + body
        outer = ipv4(a.local, a.remote, 17, udp)
    return a.peer_mac + a.my_mac + b"\x08\x00" + outer


def decapsulate(a, frame, problems):
    """(label, inner IP packet, UDP source port) of a tunnel frame for us, else None."""
    if len(frame) < 34 or frame[12:14] != b"\x08\x00":
        return None
    ihl = (frame[14] & 0x0F) * 4
    ip = frame[14:14 + ihl]
    proto = ip[9]
    src, dst = socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20])
    rest = frame[14 + ihl:]
    sport = None
    if a.encap == "gre":
        if proto != 47:
            return None
        flags, ptype = struct.unpack("!HH", rest[:4])
        if ptype != 0x8847 or flags:
            problems.append("GRE header %04x %04x" % (flags, ptype))
            return None
        rest = rest[4:]
    else:
        if proto != 17 or len(rest) < 8:
            return None
        sport, dport = struct.unpack("!HH", rest[:4])
        if dport != PORT[a.encap]:
            return None
        if not 49152 <= sport <= 65535:
            problems.append("UDP source port %d outside 49152-65535" % sport)
        rest = rest[8:]
    if (src, dst) != (a.remote, a.local):
        problems.append("outer %s > %s, expected %s > %s" % (src, dst, a.remote, a.local))
    if csum(ip) != 0:
        problems.append("bad outer IPv4 checksum")
    if a.encap == "vxlan":
        flags, vni = struct.unpack("!B3xI", rest[:8])
        if not flags & 0x08:
            problems.append("VXLAN without the I flag")
        return vni >> 8, rest[8 + 14:], sport
    entry, = struct.unpack("!I", rest[:4])
    if not entry & 0x100:
        problems.append("MPLS entry without bottom of stack")
    return entry >> 12, rest[4:], sport


def echo_of(inner):
    """(kind, src, dst, ident, seq) of an ICMP/ICMPv6 echo, else None."""
    if inner and inner[0] >> 4 == 4 and inner[9] == 1:
        ihl = (inner[0] & 0x0F) * 4
        t, _, _, ident, seq = struct.unpack("!BBHHH", inner[ihl:ihl + 8])
        kind = {8: "request", 0: "reply"}.get(t)
        return kind and (kind, socket.inet_ntoa(inner[12:16]), socket.inet_ntoa(inner[16:20]), ident, seq)
    if inner and inner[0] >> 4 == 6 and inner[6] == 58:
        t, _, _, ident, seq = struct.unpack("!BBHHH", inner[40:48])
        kind = {128: "request", 129: "reply"}.get(t)
        return kind and (kind, socket.inet_ntop(socket.AF_INET6, inner[8:24]),
                         socket.inet_ntop(socket.AF_INET6, inner[24:40]), ident, seq)
    return None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["ping", "answer", "spoof"])
    p.add_argument("--dev", required=True)
    p.add_argument("--encap", choices=["udp", "gre", "vxlan"], required=True)
    p.add_argument("--local", required=True, help="this end's outer IPv4 address")
    p.add_argument("--remote", required=True, help="the vRouter node's outer IPv4 address")
    p.add_argument("--peer-mac", required=True, help="the vRouter node's fabric MAC")
    p.add_argument("--label", type=int, required=True, help="label/VNI this end sends")
    p.add_argument("--expect-label", type=int, help="label/VNI the vRouter must send")
    p.add_argument("--src", help="inner source (ping, spoof)")
    p.add_argument("--dst", help="inner destination (ping, spoof)")
    p.add_argument("--count", type=int, default=3)
    p.add_argument("--timeout", type=float, default=10)
    p.add_argument("--ready", help="a file made once the socket listens (answer mode)")
    a = p.parse_args()
    a.peer_mac = bytes.fromhex(a.peer_mac.replace(":", ""))
    with open("/sys/class/net/%s/address" % a.dev) as f:
        a.my_mac = bytes.fromhex(f.read().strip().replace(":", ""))

    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((a.dev, 0))
    if a.ready:
        open(a.ready, "w").close()
    ident = os.getpid() & 0xFFFF
    v6 = bool(a.dst and ":" in a.dst)
    sent = answered = 0
    labels, sports, problems, replies = set(), set(), [], set()
    if a.mode in ("ping", "spoof"):
        for seq in range(a.count if a.mode == "ping" else 1):
            s.send(encapsulate(a, icmp_echo(a.src, a.dst, "request", ident, seq, v6), a.label))
            sent += 1
    deadline = time.time() + (2 if a.mode == "spoof" else a.timeout)
    want = a.count
    while time.time() < deadline:
        if a.mode == "ping" and len(replies) >= want:
            break
        if a.mode == "answer" and answered >= want:
            break
        r, _, _ = select.select([s], [], [], 0.2)
        if not r:
            continue
        frame, addr = s.recvfrom(65535)
        if addr[2] == socket.PACKET_OUTGOING:
            continue
        got = decapsulate(a, frame, problems)
        if got is None:
            continue
        label, inner, sport = got
        labels.add(label)
        if sport is not None:
            sports.add(sport)
        echo = echo_of(inner)
        if not echo:
            continue
        kind, src, dst, eid, seq = echo
        if a.mode in ("ping", "spoof") and kind == "reply" and eid == ident:
            replies.add(seq)
        elif a.mode == "answer" and kind == "request":
            s.send(encapsulate(a, icmp_echo(dst, src, "reply", eid, seq, ":" in src), a.label))
            answered += 1
    if a.expect_label is not None and labels - {a.expect_label}:
        problems.append("labels %s, expected %d" % (sorted(labels), a.expect_label))
    out = {"mode": a.mode, "encap": a.encap, "sent": sent, "replies": len(replies),
           "answered": answered, "labels": sorted(labels), "udp_sports": len(sports),
           "problems": problems}
    print(json.dumps(out))
    ok = not problems and {
        "ping": len(replies) == a.count,
        "answer": answered >= a.count,
        "spoof": not replies,
    }[a.mode]
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
