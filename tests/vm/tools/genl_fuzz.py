#!/usr/bin/env python3
"""A generic-netlink fuzzer for the vrouter family, driven by kmod/uapi/vrouter.yaml.

Sends random requests for every operation, as do and as dump: attributes well formed
(values biased to the ones that reach deep: small ids, table edges, the names given) or
breaking the family's policy (short integers, oversized or unterminated strings, wrong
binary lengths, unknown types, broken attribute headers), and bad headers (unknown
commands, dump flags on do-only commands). Prints the replies' errno counts per
operation and fails when:
  - a request that breaks the policy is accepted (the kernel must refuse it: EINVAL);
  - a reply carries an errno outside the family's contract, or no reply comes;
  - with --unprivileged: an admin operation answers anything but EPERM, or the tables
    (vifs, nexthops, routes, flows; counters aside) differ afterwards.

usage: genl_fuzz.py [--count N] [--seed S] [--names a,b] [--unprivileged]
"""
import argparse, collections, errno, os, random, socket, struct, sys, time

NETLINK_GENERIC, GENL_ID_CTRL, CTRL_CMD_GETFAMILY = 16, 0x10, 3
CTRL_ATTR_FAMILY_ID, CTRL_ATTR_FAMILY_NAME = 1, 2
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 0x1, 0x4, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
SOL_NETLINK, NETLINK_CAP_ACK, NETLINK_EXT_ACK = 270, 10, 11
SPEC = os.path.join(os.path.dirname(__file__), "../../../kmod/uapi/vrouter.yaml")

# What the family may answer (kmod/ctl and genetlink's own checks).
CONTRACT = {0, errno.EPERM, errno.ENOENT, errno.EBUSY, errno.EEXIST, errno.ENODEV,
            errno.EINVAL, errno.ENOSPC, errno.ERANGE, errno.EMSGSIZE, errno.EOPNOTSUPP,
            errno.ENOMEM}
INT_SIZE = {"u8": 1, "u16": 2, "u32": 4, "u64": 8}
INT_FMT = {"u8": "B", "u16": "H", "u32": "I", "u64": "Q"}
SMALL = [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 15, 16, 17, 24, 31, 32, 33, 64, 100, 127, 128,
         255, 256, 1023, 1024, 4095, 4096, 65535, 65536]
EDGES = [2**31 - 1, 2**31, 2**32 - 2, 2**32 - 1]


def nla(kind, payload, length=None):
    a = struct.pack("HH", 4 + len(payload) if length is None else length, kind) + payload
    return a + b"\0" * (-len(a) % 4)


class Spec:
    def __init__(self, path):
        import yaml  # python3-yaml, installed by qemu/setup-host.sh
        d = yaml.safe_load(open(path))
        self.sets = {}
        for s in d["attribute-sets"]:
            attrs, value = {}, 0
            for a in s["attributes"]:
                value = a.get("value", value + 1)
                attrs[a["name"]] = dict(a, value=value)
            self.sets[s["name"]] = attrs
        self.ops = []
        value = 0
        for o in d["operations"]["list"]:
            value = o.get("value", value + 1)
            if "event" in o:
                continue  # notifications: no request
            self.ops.append(dict(
                name=o["name"], cmd=value, set=self.sets[o["attribute-set"]], set_name=o["attribute-set"],
                admin="admin-perm" in o.get("flags", []), dump="dump" in o,
                request=o["do"]["request"]["attributes"]))
        self.max_cmd = value


def u32(v):
    return struct.pack("I", v & 0xffffffff)


def ip4(r):
    return bytes([10, 1, 0, r.choice([1, 2, 3, 4, 9])])


# Plausible values for the attributes that decide whether a request gets past validation
# (the L3 topology of tests/vm/l3_lib.sh: VRFs 1-2, nexthops 1 and 10-13, pods 10.1.0.2-4),
# so that a share of the requests changes the tables and reaches the code behind them.
TEMPLATES = {
    "vif": {"type": lambda r: u32(r.choice([3, 3, 3, 0, 2])), "vrf": lambda r: u32(r.randrange(4)),
            "flags": lambda r: u32(r.choice([0, 1, 0x40, 0x80, 0x1000, 0x41])),
            "nh-id": lambda r: u32(r.choice([0, 1, 10, 11])), "idx": lambda r: u32(r.randrange(8)),
            "mac": lambda r: bytes([2, 0, 0, 0, 0, r.randrange(256)]), "ip": lambda r: ip4(r)},
    "nh": {"id": lambda r: u32(r.choice([2, 3, 4, 20, 21, 30, 10, 11, 1])),
           "type": lambda r: u32(r.choice([1, 2, 3, 5, 6])), "family": lambda r: u32(2),
           "oif": lambda r: u32(r.randrange(6)), "vrf": lambda r: u32(r.randrange(4)),
           "flags": lambda r: u32(r.choice([0, 1, 2, 0x400, 0x8, 0x40, 0x80, 0x48])),
           "tun-sip": lambda r: ip4(r), "tun-dip": lambda r: ip4(r),
           "encap": lambda r: bytes(6) + bytes([0, 0, 0x5e, 0, 1, 0]) + b"\x08\x00",
           "members": lambda r: b"".join(u32(m) for m in r.sample([10, 11, 12, 13, 20], r.randint(1, 4)))},
    "rt": {"vrf": lambda r: u32(r.randrange(4)), "family": lambda r: u32(2),
           "prefix": lambda r: ip4(r), "prefix-len": lambda r: u32(r.choice([0, 8, 16, 24, 32, 32])),
           "nh-id": lambda r: u32(r.choice([0, 1, 10, 11, 12, 13, 20])),
           "flags": lambda r: u32(r.choice([0, 2]))},
    "mpls": {"label": lambda r: u32(r.choice([0, 1, 16, 100, 5119, 5120])),
             "nh-id": lambda r: u32(r.choice([1, 10, 11, 12, 20]))},
    "vxlan": {"vni": lambda r: u32(r.choice([1, 100, 4096, (1 << 24) - 1, 1 << 24])),
              "nh-id": lambda r: u32(r.choice([1, 10, 11, 12, 20]))},
    # a new flow names no index (the kernel picks it); an update names one and its gen
    "flow": {"index": lambda r: u32(r.randrange(64)) if r.random() < 0.2 else None,
             "gen": lambda r: u32(r.randrange(4)) if r.random() < 0.2 else None,
             "vrf": lambda r: u32(r.choice([1, 2])), "family": lambda r: u32(2),
             "proto": lambda r: bytes([r.choice([6, 17, 1])]), "src": lambda r: ip4(r),
             "dst": lambda r: ip4(r), "sport": lambda r: struct.pack("H", r.randrange(1, 40)),
             "dport": lambda r: struct.pack("H", r.randrange(1, 40)),
             "action": lambda r: u32(r.randrange(4)), "flags": lambda r: u32(r.choice([0, 0, 2, 8, 0x14])),
             "rindex": lambda r: u32(r.choice([r.randrange(64), 0xffffffff]))},
}


class Fuzzer:
    def __init__(self, spec, rng, names):
        self.spec, self.rng, self.names = spec, rng, names

    def u(self, kind):
        r, bits = self.rng, 8 * INT_SIZE[kind]
        v = r.choice(SMALL) if r.random() < 0.75 else (
            r.choice(EDGES) if r.random() < 0.5 else r.getrandbits(bits))
        return v & ((1 << bits) - 1)

    def good(self, a):
        """A value that fits the policy."""
        r, t, checks = self.rng, a["type"], a.get("checks", {})
        if t in INT_SIZE:
            return struct.pack(INT_FMT[t], self.u(t))
        if t == "string":
            s = r.choice(self.names) if self.names and r.random() < 0.6 else "".join(
                r.choice("abcvt0123-._") for _ in range(r.randint(0, checks.get("max-len", 15))))
            return s.encode()[:checks.get("max-len", 15)] + b"\0"
        if t == "binary":
            if "exact-len" in checks:
                n = checks["exact-len"]
            else:
                n = r.choice([0, 1, 4, 6, 8, 12, 16, 32, checks.get("max-len", 16)])
                n = min(n, checks.get("max-len", 16))
            if r.random() < 0.5 and n % 4 == 0:  # arrays of small u32 ids (members, labels)
                return b"".join(struct.pack("I", r.choice(SMALL[:12])) for _ in range(n // 4))
            return bytes(r.getrandbits(8) for _ in range(n))
        if t == "nest":
            return b""  # an empty nest
        return None  # pad: never sent well formed (the policy rejects it)

    def bad(self, a, maxattr):
        """(type, payload, length override) that breaks the policy."""
        r, t, checks = self.rng, a["type"], a.get("checks", {})
        kind = a["value"]
        choice = r.randrange(4)
        if choice == 0:
            return r.randint(maxattr + 1, 0x3fff), struct.pack("I", 1), None  # unknown type
        if choice == 1:
            return kind, b"\0\0\0\0", r.randint(0, 3)  # header shorter than itself
        if t in INT_SIZE:
            return kind, bytes(r.randrange(INT_SIZE[t])), None  # too short
        if t == "string":
            n = checks.get("max-len", 15)
            if r.random() < 0.5:
                return kind, b"x" * r.randint(n + 1, n + 40) + b"\0", None  # too long
            return kind, b"y" * r.randint(1, n), None  # not terminated
        if t == "binary":
            if "exact-len" in checks:
                n = checks["exact-len"]
                return kind, bytes(r.choice([x for x in range(0, n + 8) if x != n])), None
            return kind, bytes(checks.get("max-len", 16) + r.randint(1, 64)), None
        if t == "pad":
            return kind, b"", None  # NLA_REJECT
        return kind, b"\0\0\0\0", 2  # nest with a broken header

    def request(self, op):
        """(cmd, flags, payload, must_refuse)."""
        r = self.rng
        maxattr = max(a["value"] for a in op["set"].values())
        attrs, malformed = [], False
        template = TEMPLATES.get(op["set_name"], {}) if r.random() < 0.6 else {}
        for name in op["request"]:
            a = op["set"][name]
            if name in template and r.random() < 0.9:
                v = template[name](r)  # None: the template leaves it out
                if v is not None:
                    attrs.append(nla(a["value"], v))
            elif r.random() < (0.2 if template else 0.55):
                v = self.good(a)
                if v is not None:
                    attrs.append(nla(a["value"], v))
        if r.random() < 0.25:
            a = op["set"][r.choice(op["request"])]
            kind, payload, length = self.bad(a, maxattr)
            attrs.insert(r.randrange(len(attrs) + 1), nla(kind, payload, length))
            malformed = True
        if r.random() < 0.2:
            r.shuffle(attrs)
        if op["dump"] and r.random() < 0.3:
            flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP
        elif r.random() < 0.02:
            flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP  # possibly on a do-only command
        else:
            flags = NLM_F_REQUEST | NLM_F_ACK
        return op["cmd"], flags, b"".join(attrs), malformed


class Netlink:
    def __init__(self):
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
        self.sock.settimeout(10)
        self.sock.bind((0, 0))
        self.seq = 0
        err, payload = self.call(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, NLM_F_REQUEST,
                                 nla(CTRL_ATTR_FAMILY_NAME, b"vrouter\0"))
        if err:
            raise SystemExit(f"vrouter family not found (errno {err})")
        self.family = next(struct.unpack_from("H", v)[0] for k, v in attrs(payload[0][4:])
                           if k == CTRL_ATTR_FAMILY_ID)

    def call(self, family, cmd, flags, body, version=1):
        """Sends one request; (errno, [genl payloads]) once it is answered in full."""
        self.seq += 1
        msg = struct.pack("BBH", cmd, version, 0) + body
        self.sock.send(struct.pack("IHHII", 16 + len(msg), family, flags, self.seq, 0) + msg)
        replies = []
        while True:
            data = self.sock.recv(1 << 20)
            off = 0
            while off + 16 <= len(data):
                length, kind, _, seq, _ = struct.unpack_from("IHHII", data, off)
                if length < 16:
                    raise SystemExit("malformed netlink reply")
                if seq == self.seq:
                    code = struct.unpack_from("i", data, off + 16)[0] if length >= 20 else 0
                    if kind in (NLMSG_ERROR, NLMSG_DONE):
                        return -code, replies  # the ack, the error, or the end of a dump
                    replies.append(data[off + 16:off + length])
                    if not flags & (NLM_F_ACK | NLM_F_DUMP):
                        return 0, replies  # no ack asked for: the reply is the answer
                off += (length + 3) & ~3


def attrs(buf):
    off = 0
    while off + 4 <= len(buf):
        length, kind = struct.unpack_from("HH", buf, off)
        if length < 4:
            return
        yield kind & 0x3fff, buf[off + 4:off + length]
        off += (length + 3) & ~3


def snapshot(nl, spec):
    """The tables as dumps show them, counters aside: what nobody unprivileged may change."""
    by_name = {o["name"]: o for o in spec.ops}
    skip = {("vif", "stats"), ("vif", "ref-cnt"), ("nh", "ref-cnt"), ("flow", "packets"),
            ("flow", "bytes"), ("flow", "age"), ("flow", "tcp-flags")}
    state = {}
    for name, setname, extra in [("vif-get", "vif", [b""]), ("nh-get", "nh", [b""]),
                                 ("flow-get", "flow", [b""]),
                                 ("rt-get", "rt", [nla(spec.sets["rt"]["vrf"]["value"], struct.pack("I", v)) +
                                                   nla(spec.sets["rt"]["family"]["value"], struct.pack("I", f))
                                                   for v in range(4) for f in (2, 10)])]:
        names = {a["value"]: a["name"] for a in spec.sets[setname].values()}
        for body in extra:
            err, replies = nl.call(nl.family, by_name[name]["cmd"], NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP, body)
            rows = sorted(tuple(sorted((names.get(k, k), v) for k, v in attrs(r[4:])
                                       if (setname, names.get(k)) not in skip)) for r in replies)
            state[(name, body)] = (err, rows)
    return state


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--names", default="")
    ap.add_argument("--spec", default=SPEC)
    ap.add_argument("--unprivileged", action="store_true")
    args = ap.parse_args()
    spec = Spec(args.spec)
    rng = random.Random(args.seed)
    fz = Fuzzer(spec, rng, [n for n in args.names.split(",") if n])
    nl = Netlink()
    before = snapshot(nl, spec) if args.unprivileged else None
    counts = collections.defaultdict(collections.Counter)
    problems = []
    start = time.time()
    for i in range(args.count):
        r = rng.random()
        if r < 0.01:  # a command the family does not have
            cmd = rng.choice([0, spec.max_cmd + 1 + rng.randrange(200)])
            flags, body, malformed, name, admin = NLM_F_REQUEST | NLM_F_ACK, b"", False, "unknown-cmd", False
        else:
            op = rng.choice(spec.ops)
            cmd, flags, body, malformed = fz.request(op)
            name, admin = op["name"], op["admin"]
            if flags & NLM_F_DUMP == NLM_F_DUMP and not op["dump"]:
                name, admin = name + "(dump)", False  # no such op: EOPNOTSUPP comes first
            elif flags & NLM_F_DUMP == NLM_F_DUMP:
                name += " dump"
        try:
            err, _ = nl.call(nl.family, cmd, flags, body, version=rng.choice([1, 1, 1, 0, 2]))
        except socket.timeout:
            problems.append(f"#{i} {name}: no answer within 10 s")
            break
        counts[name][errno.errorcode.get(err, str(err)) if err else "ok"] += 1
        if err not in CONTRACT:
            problems.append(f"#{i} {name}: errno {err} is outside the contract")
        if malformed and err == 0:
            problems.append(f"#{i} {name}: accepted a request that breaks the policy: {body.hex()}")
        if args.unprivileged and admin and err != errno.EPERM:
            problems.append(f"#{i} {name}: unprivileged admin request answered errno {err}, not EPERM")
        if len(problems) >= 20:
            break
    took = time.time() - start
    if args.unprivileged and snapshot(nl, spec) != before:
        problems.append("the tables changed under an unprivileged caller")
    print(f"genl_fuzz: seed {args.seed}, {i + 1} requests in {took:.1f}s "
          f"({(i + 1) / max(took, 1e-9):.0f}/s){' as an unprivileged user' if args.unprivileged else ''}")
    total = collections.Counter()
    for name in sorted(counts):
        total.update(counts[name])
        print(f"  {name:24} " + " ".join(f"{k}={v}" for k, v in sorted(counts[name].items())))
    print(f"  {'all':24} " + " ".join(f"{k}={v}" for k, v in sorted(total.items())))
    for p in problems:
        print(f"  PROBLEM {p}")
    sys.exit(1 if problems else 0)


main()
