#!/usr/bin/env python3
"""NetworkPolicy truth tables, in the style of Kubernetes' own network policy tests.

Namespaces x, y, z (labelled ns=<name>) hold pods a, b, c (labelled app=<name>, agnhost
netexec: TCP 8080 named serve-tcp, UDP 8081 named serve-udp), each behind a Service of
its own (TCP 80 -> 8080, UDP 81 -> 8081). For every case the policies are applied, then
every ordered pair of distinct pods is probed four ways (TCP and UDP, to the pod's address
and to its Service's) from the source pod's network namespace, and the observed
matrix must equal the case's expected one. The expectations are written by hand from the
API's semantics, not computed by the agent's code. A case gets a few tries (the agent
compiles within a second of the API change); a failure prints both matrices.

    netpol_truth_table.py PODS [CASE-REGEX]
PODS: one line per pod, "namespace name ip pid service-ip" (pid: a process in the pod).
"""

import ctypes
import json
import os
import re
import select
import socket
import subprocess
import sys
import time

NAMESPACES = ("x", "y", "z")
PODS = ("a", "b", "c")
# (kind, protocol, pod port): each pair is probed these four ways
PROBES = (
    ("pod", "tcp", 8080),
    ("pod", "udp", 8081),
    ("svc", "tcp", 8080),
    ("svc", "udp", 8081),
)
SERVICE_PORT = {8080: 80, 8081: 81}
TRIES = 8


# ---- the prober ----------------------------------------------------------------------
# One process, one thread: each probe's socket is made inside its source pod's network
# namespace (setns), and all of a round's probes run at once under one select loop. (A
# Python process with a thread per probe in each of the nine pods starved the emulated
# vCPUs: probes timed out before their threads ran.)

CLONE_NEWNET = 0x40000000
DEADLINE = 4.0  # a round's probes get this long (a denied probe never answers)
UDP_RESEND = 1.0
libc = ctypes.CDLL("libc.so.6", use_errno=True)


def in_netns(pid, make):
    """make() run inside the network namespace of process `pid`; its sockets stay there."""
    own = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
    try:
        if libc.setns(target, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns into the netns of {pid}")
        return make()
    finally:
        libc.setns(own, CLONE_NEWNET)
        os.close(own)
        os.close(target)


def open_probe(proto, ip, port):
    if proto == "tcp":
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex((ip, port))
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setblocking(False)
        s.connect((ip, port))
        s.send(b"hostname")
    return s


def run_round(probes):
    """probes: {key: (pid, proto, ip, port, expected name)} -> {key: reached}"""
    open_ = {k: in_netns(pid, lambda: open_probe(proto, ip, port)) for k, (pid, proto, ip, port, _) in probes.items()}
    result = {k: False for k in probes}
    end = time.monotonic() + DEADLINE
    resend = time.monotonic() + UDP_RESEND
    while open_ and time.monotonic() < end:
        tcp = [s for k, s in open_.items() if probes[k][1] == "tcp"]
        udp = [s for k, s in open_.items() if probes[k][1] == "udp"]
        readable, writable, _ = select.select(udp, tcp, [], 0.2)
        done = set(readable) | set(writable)
        for k, s in list(open_.items()):
            if s not in done:
                continue
            if probes[k][1] == "tcp":
                result[k] = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
            else:
                try:
                    result[k] = s.recv(256).decode(errors="replace").strip() == probes[k][4]
                except OSError:  # ICMP unreachable
                    result[k] = False
            s.close()
            del open_[k]
        if time.monotonic() >= resend:
            for k, s in open_.items():
                if probes[k][1] == "udp":
                    try:
                        s.send(b"hostname")
                    except OSError:
                        pass
            resend = time.monotonic() + UDP_RESEND
    for s in open_.values():
        s.close()
    return result


# ---- the driver, on the node -----------------------------------------------------------


class Pod:
    def __init__(self, ns, name, ip, pid, vip):
        self.ns, self.name, self.ip, self.pid, self.vip = ns, name, ip, pid, vip
        self.id = f"{ns}/{name}"


def probe_matrix(pods):
    """{(src id, dst id, kind, proto): reached} for every ordered pair of distinct pods."""
    probes = {}
    for src in pods:
        for dst in pods:
            if dst is src:
                continue
            for kind, proto, port in PROBES:
                ip, p = (dst.ip, port) if kind == "pod" else (dst.vip, SERVICE_PORT[port])
                probes[(src.id, dst.id, kind, proto)] = (src.pid, proto, ip, p, dst.name)
    return run_round(probes)


def table(pods, matrix, kind, proto):
    """Rows: sources, columns: destinations; '.' reached, 'X' not, '-' the pod itself."""
    ids = [p.id for p in pods]
    lines = [f"  {kind} {proto}".ljust(12) + "".join(f"{i.replace('/', ''):^3}" for i in ids)]
    for s in ids:
        cells = ("-" if s == d else "." if matrix[(s, d, kind, proto)] else "X" for d in ids)
        lines.append(f"  {s.replace('/', '')}".ljust(12) + "".join(f"{c:^3}" for c in cells))
    return "\n".join(lines)


def kubectl(*args, stdin=None):
    r = subprocess.run([os.environ.get("KUBECTL", "kubectl"), *args], input=stdin, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)}: {r.stderr.strip()}")
    return r.stdout


def policy(ns, name, spec):
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def pods_where(**labels):
    return {"matchLabels": labels}


def ns_where(name):
    return {"matchLabels": {"ns": name}}


# ---- the cases: (name, [steps]); a step is (what to do, expected(src, dst, proto)) -----
# src and dst are "ns/pod"; proto "tcp" or "udp". The Service probes expect what the pod
# probes do: a policy speaks of pods, and the flow verdict sees the backend.


def ns_of(p):
    return p.split("/")[0]


def cases(pod_cidr, ip_of):
    xa = pods_where(app="a")
    ingress_a = lambda peers: policy("x", "a-in", {"podSelector": xa, "ingress": [{"from": peers}]})
    tcp, udp = {"protocol": "TCP", "port": 8080}, {"protocol": "UDP", "port": 8081}
    deny_in = lambda ns: policy(ns, "deny-in", {"podSelector": {}, "policyTypes": ["Ingress"]})
    return [
        ("no policy: everything reaches everything", [([], lambda s, d, p: True)]),
        ("default deny ingress in x", [([deny_in("x")], lambda s, d, p: ns_of(d) != "x")]),
        (
            "default deny egress in x",
            [
                (
                    [policy("x", "deny-out", {"podSelector": {}, "policyTypes": ["Egress"]})],
                    lambda s, d, p: ns_of(s) != "x",
                )
            ],
        ),
        (
            "x/a takes x/b only (podSelector)",
            [([ingress_a([{"podSelector": pods_where(app="b")}])], lambda s, d, p: d != "x/a" or s == "x/b")],
        ),
        (
            "x/a takes namespace y only (namespaceSelector)",
            [([ingress_a([{"namespaceSelector": ns_where("y")}])], lambda s, d, p: d != "x/a" or ns_of(s) == "y")],
        ),
        (
            "x/a takes y/c only (namespaceSelector and podSelector in one peer)",
            [
                (
                    [ingress_a([{"namespaceSelector": ns_where("y"), "podSelector": pods_where(app="c")}])],
                    lambda s, d, p: d != "x/a" or s == "y/c",
                )
            ],
        ),
        (
            "x/a takes namespace y or x/c (two peers)",
            [
                (
                    [ingress_a([{"namespaceSelector": ns_where("y")}, {"podSelector": pods_where(app="c")}])],
                    lambda s, d, p: d != "x/a" or ns_of(s) == "y" or s == "x/c",
                )
            ],
        ),
        (
            "x/a takes TCP 8080 only",
            [
                (
                    [policy("x", "a-in", {"podSelector": xa, "ingress": [{"ports": [tcp]}]})],
                    lambda s, d, p: d != "x/a" or p == "tcp",
                )
            ],
        ),
        (
            "x/a takes UDP 8081 only",
            [
                (
                    [policy("x", "a-in", {"podSelector": xa, "ingress": [{"ports": [udp]}]})],
                    lambda s, d, p: d != "x/a" or p == "udp",
                )
            ],
        ),
        (
            "x/a takes its named port serve-udp only",
            [
                (
                    [policy("x", "a-in", {"podSelector": xa, "ingress": [{"ports": [{"protocol": "UDP", "port": "serve-udp"}]}]})],
                    lambda s, d, p: d != "x/a" or p == "udp",
                )
            ],
        ),
        (
            "x/a takes TCP 8000-8090 (endPort)",
            [
                (
                    [policy("x", "a-in", {"podSelector": xa, "ingress": [{"ports": [{"protocol": "TCP", "port": 8000, "endPort": 8090}]}]})],
                    lambda s, d, p: d != "x/a" or p == "tcp",
                )
            ],
        ),
        (
            "x/a takes TCP 8081-8090 (endPort, 8080 outside)",
            [
                (
                    [policy("x", "a-in", {"podSelector": xa, "ingress": [{"ports": [{"protocol": "TCP", "port": 8081, "endPort": 8090}]}]})],
                    lambda s, d, p: d != "x/a",
                )
            ],
        ),
        (
            "x/a takes the pod CIDR except y/b (ipBlock with except)",
            [
                (
                    [ingress_a([{"ipBlock": {"cidr": pod_cidr, "except": [ip_of("y/b") + "/32"]}}])],
                    lambda s, d, p: d != "x/a" or s != "y/b",
                )
            ],
        ),
        (
            "x/a takes namespaces y and z (matchExpressions In)",
            [
                (
                    [ingress_a([{"namespaceSelector": {"matchExpressions": [{"key": "ns", "operator": "In", "values": ["y", "z"]}]}}])],
                    lambda s, d, p: d != "x/a" or ns_of(s) in ("y", "z"),
                )
            ],
        ),
        (
            "x/a takes x's pods but b (matchExpressions NotIn)",
            [
                (
                    [ingress_a([{"podSelector": {"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["b"]}]}}])],
                    lambda s, d, p: d != "x/a" or s == "x/c",
                )
            ],
        ),
        (
            "x/a takes pods without an app label: none (matchExpressions DoesNotExist)",
            [
                (
                    [ingress_a([{"podSelector": {"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}}])],
                    lambda s, d, p: d != "x/a",
                )
            ],
        ),
        (
            "x/a reaches namespace y only (egress)",
            [
                (
                    [policy("x", "a-out", {"podSelector": xa, "policyTypes": ["Egress"], "egress": [{"to": [{"namespaceSelector": ns_where("y")}]}]})],
                    lambda s, d, p: s != "x/a" or ns_of(d) == "y",
                )
            ],
        ),
        (
            "x/a sends UDP 8081 only (egress ports)",
            [
                (
                    [policy("x", "a-out", {"podSelector": xa, "policyTypes": ["Egress"], "egress": [{"ports": [udp]}]})],
                    lambda s, d, p: s != "x/a" or p == "udp",
                )
            ],
        ),
        (
            "x/a: ingress from y and egress to z in one policy",
            [
                (
                    [
                        policy(
                            "x",
                            "a-both",
                            {
                                "podSelector": xa,
                                "policyTypes": ["Ingress", "Egress"],
                                "ingress": [{"from": [{"namespaceSelector": ns_where("y")}]}],
                                "egress": [{"to": [{"namespaceSelector": ns_where("z")}]}],
                            },
                        )
                    ],
                    lambda s, d, p: (d != "x/a" or ns_of(s) == "y") and (s != "x/a" or ns_of(d) == "z"),
                )
            ],
        ),
        (
            "two policies on x/a are a union (x/b, y/c)",
            [
                (
                    [
                        ingress_a([{"podSelector": pods_where(app="b")}]),
                        policy("x", "a-in-2", {"podSelector": xa, "ingress": [{"from": [{"namespaceSelector": ns_where("y"), "podSelector": pods_where(app="c")}]}]}),
                    ],
                    lambda s, d, p: d != "x/a" or s in ("x/b", "y/c"),
                )
            ],
        ),
        (
            "deny ingress everywhere, then x/a -> y/b only",
            [
                (
                    [deny_in(n) for n in NAMESPACES]
                    + [policy("y", "b-in", {"podSelector": pods_where(app="b"), "ingress": [{"from": [{"namespaceSelector": ns_where("x"), "podSelector": pods_where(app="a")}]}]})],
                    lambda s, d, p: s == "x/a" and d == "y/b",
                )
            ],
        ),
        (
            "both ends must allow: x egress-isolated, y ingress-isolated, x/a <-> y/a opened",
            [
                (
                    [
                        policy("x", "deny-out", {"podSelector": {}, "policyTypes": ["Egress"]}),
                        policy("x", "a-out", {"podSelector": xa, "policyTypes": ["Egress"], "egress": [{"to": [{"namespaceSelector": ns_where("y"), "podSelector": pods_where(app="a")}]}]}),
                        deny_in("y"),
                    ],
                    lambda s, d, p: ns_of(s) != "x" and ns_of(d) != "y",
                ),
                (
                    [policy("y", "a-in", {"podSelector": pods_where(app="a"), "ingress": [{"from": [{"namespaceSelector": ns_where("x"), "podSelector": pods_where(app="a")}]}]})],
                    lambda s, d, p: (ns_of(s) != "x" and ns_of(d) != "y") or (s == "x/a" and d == "y/a"),
                ),
            ],
        ),
        (
            "an empty ingress rule opens x/a in a default-deny namespace",
            [
                (
                    [deny_in("x"), policy("x", "a-all", {"podSelector": xa, "ingress": [{}]})],
                    lambda s, d, p: ns_of(d) != "x" or d == "x/a",
                )
            ],
        ),
        (
            "live: a pod label makes a peer",
            [
                (
                    [ingress_a([{"podSelector": pods_where(role="friend")}])],
                    lambda s, d, p: d != "x/a",
                ),
                (
                    ["label pod -n x b role=friend"],
                    lambda s, d, p: d != "x/a" or s == "x/b",
                ),
                (
                    ["label pod -n x b role-"],
                    lambda s, d, p: d != "x/a",
                ),
            ],
        ),
        (
            "live: a namespace label makes peers",
            [
                (
                    [ingress_a([{"namespaceSelector": {"matchLabels": {"team": "blue"}}}])],
                    lambda s, d, p: d != "x/a",
                ),
                (
                    ["label namespace z team=blue"],
                    lambda s, d, p: d != "x/a" or ns_of(s) == "z",
                ),
                (
                    ["label namespace z team-"],
                    lambda s, d, p: d != "x/a",
                ),
            ],
        ),
        (
            "live: the policy's removal opens x/a again",
            [
                ([deny_in("x")], lambda s, d, p: ns_of(d) != "x"),
                (["delete networkpolicy -n x deny-in"], lambda s, d, p: True),
            ],
        ),
    ]


def apply_step(actions):
    objects = [a for a in actions if isinstance(a, dict)]
    if objects:
        kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))
    for a in actions:
        if isinstance(a, str):
            kubectl(*a.split())


def clear_policies():
    kubectl("delete", "networkpolicy", "--all", "--all-namespaces", "--wait=true")


def run_case(pods, name, steps):
    """True when every step's matrix came out as expected within its tries."""
    ok = True
    for i, (actions, allowed) in enumerate(steps):
        apply_step(actions)
        t0 = time.monotonic()
        want = {
            (s.id, d.id, kind, proto): bool(allowed(s.id, d.id, proto))
            for s in pods
            for d in pods
            if s is not d
            for kind, proto, _ in PROBES
        }
        for attempt in range(1, TRIES + 1):
            seen = probe_matrix(pods)
            if seen == want:
                break
            time.sleep(1)
        label = f"{name}" + (f" (step {i + 1})" if len(steps) > 1 else "")
        if seen == want:
            print(f"    ok   {label}: {time.monotonic() - t0:.1f}s, try {attempt}", flush=True)
            continue
        ok = False
        print(f"    FAIL {label}: after {TRIES} tries ('.' reached, 'X' not)", flush=True)
        for kind, proto, _ in PROBES:
            if any(seen[k] != want[k] for k in want if k[2:] == (kind, proto)):
                print(" expected\n" + table(pods, want, kind, proto))
                print(" observed\n" + table(pods, seen, kind, proto), flush=True)
        break
    clear_policies()
    return ok


def main():
    pods = []
    with open(sys.argv[1]) as f:
        for line in f:
            if line.strip():
                pods.append(Pod(*line.split()))
    only = re.compile(sys.argv[2]) if len(sys.argv) > 2 else None
    by_id = {p.id: p for p in pods}
    pod_cidr = kubectl("get", "nodes", "-o", "jsonpath={.items[0].spec.podCIDR}").strip()
    all_cases = cases(pod_cidr, lambda i: by_id[i].ip)
    failed = []
    for name, steps in all_cases:
        if only and not only.search(name):
            continue
        if not run_case(pods, name, steps):
            failed.append(name)
    print(f"    truth tables: {len(all_cases) - len(failed)} of {len(all_cases)} cases as expected")
    if failed:
        print("    failed: " + "; ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
