#!/usr/bin/env bash
# The soak run (`make soak`, inside the VM): pods churn through the CNI with traffic
# flowing, the module is reloaded under traffic, the agent is killed at random points of
# the churn. Afterwards nothing leaks (vifs, nexthops, routes, flows, addresses, host
# ends), the kernel's memory is back at its baseline and the agent's RSS is flat. Prints
# the figures. SOAK_CYCLES (1000), SOAK_RELOADS (20), SOAK_KILLS (10).
cd "$(dirname "$0")/../.."
. tests/vm/lib.sh
. tests/vm/agent_lib.sh
CYCLES=${SOAK_CYCLES:-1000} RELOADS=${SOAK_RELOADS:-20} KILLS=${SOAK_KILLS:-10}

pod_count() { api GET /ports | jq length; }
vifs() { vrctl vif --list --json | jq '[.[] | select(.type_name == "Virtual")] | length'; }
nhs() { vrctl nh --list --json | jq '[.[] | select(.id >= 100)] | length'; }
routes() { vrctl rt --dump 1 --json | jq length; }
flows() { vrctl flow -l --json | jq length; }
taps() { ip -o link show | grep -c ': tap' || true; }
addresses() { api GET /metrics | awk '/^vrouter_agent_addresses_in_use\{family="ipv4"\}/ {print $2}'; }
# kernel memory that the module's objects live in: unreclaimable slab + vmalloc, in kB
kmem() { awk '/^SUnreclaim:|^VmallocUsed:/ {s += $2} END {print s}' /proc/meminfo; }
agent_rss() { awk '/^VmRSS:/ {print $2}' "/proc/$(cat "$AGENT_DIR/pid")/status"; }
state() { echo "ports=$(pod_count) vifs=$(vifs) nhs=$(nhs) routes=$(routes) taps=$(taps) addrs=$(addresses)"; }
ip_of() { jq -r '.ips[0].address' "$AGENT_DIR/$1.json" | cut -d/ -f1; }

add() { # add <pod>: a namespace and a CNI ADD, result in $AGENT_DIR/<pod>.json
  ip netns add "vs$1" 2>/dev/null
  cni ADD "c$1" "vs$1" eth0 "$(conf 1.0.0)" "$1" > "$AGENT_DIR/$1.json"
}
del() { # del <pod>: CNI DEL (retried while the agent says "try again later"), namespace gone
  local i
  for i in $(seq 50); do cni DEL "c$1" "vs$1" eth0 "$(conf 1.0.0)" "$1" >/dev/null && break; sleep 0.2; done
  ip netns del "vs$1" 2>/dev/null
}

cleanup; mkdir -p "$AGENT_DIR"
load
agent_start
# two long-lived pods with traffic between them for the whole run
add keep1 || fail "ADD keep1: $(cat "$AGENT_DIR/keep1.json")"
add keep2 || fail "ADD keep2: $(cat "$AGENT_DIR/keep2.json")"
ip netns exec vskeep1 ping -q -i 0.2 "$(ip_of keep2)" > "$AGENT_DIR/keep.ping" 2>&1 &
pinger=$!
# warm up (first allocations, caches), then the baseline
for i in $(seq 10); do add "w$i" >/dev/null || fail "warm-up ADD"; del "w$i"; done
sleep 2
base_state=$(state) base_kmem=$(kmem) base_rss=$(agent_rss)
echo "soak: baseline $base_state kmem=${base_kmem}kB agent_rss=${base_rss}kB"

# 1. CYCLES pod create/delete cycles, each pod pinging a long-lived one once
start=$(date +%s); failed=0
for i in $(seq "$CYCLES"); do
  if add "p$i"; then
    ip netns exec "vsp$i" ping -c 1 -W 2 "$(ip_of keep1)" >/dev/null || failed=$((failed + 1))
  else
    fail "cycle $i: ADD: $(cat "$AGENT_DIR/p$i.json")"
  fi
  del "p$i"
  [ $((i % 100)) = 0 ] && echo "soak: $i cycles, $(state), kmem=$(kmem)kB agent_rss=$(agent_rss)kB"
done
rss1=$(agent_rss)
echo "soak: $CYCLES cycles in $(( $(date +%s) - start ))s, $failed pings unanswered, agent RSS ${base_rss} -> ${rss1} kB"
expect_eq "pings of churned pods" 0 "$failed"
# the same agent process over the whole churn: RSS within 20% of the baseline
[ $(( rss1 * 100 / base_rss )) -le 120 ] || fail "agent RSS grew from $base_rss to $rss1 kB over the churn"

# 2. rmmod/insmod under traffic with pods attached: the agent programs them again
for i in $(seq "$RELOADS"); do
  rmmod vrouter || fail "rmmod $i with pods attached and traffic"
  load
  wait_for 30 curl -sf "$AGENT_URL/health" || fail "agent not ready after reload $i"
  wait_for 20 ip netns exec vskeep1 ping -c 1 -W 1 "$(ip_of keep2)" || fail "keep1 -> keep2 after reload $i"
done
echo "soak: $RELOADS reloads under traffic"

# 3. the agent killed -9 at random points of parallel churn, restarted each time
for k in $(seq "$KILLS"); do
  for j in $(seq 8); do add "k$k-$j" >/dev/null & done
  sleep "0.$((RANDOM % 10))"
  agent_kill
  wait_children=$(jobs -p | grep -v "^$pinger$" || true)
  [ -n "$wait_children" ] && wait $wait_children 2>/dev/null
  agent_start
  for j in $(seq 8); do del "k$k-$j"; done
done
echo "soak: $KILLS agent kills during churn"

# afterwards: what the baseline had, nothing more; memory back
sleep 3
kill "$pinger" 2>/dev/null
end_state=$(state) end_kmem=$(kmem)
echo "soak: after $end_state kmem=${end_kmem}kB (baseline ${base_kmem}kB)"
expect_eq "tables and addresses" "$base_state" "$end_state"
loss=$(awk '/packet loss/ {print $6}' "$AGENT_DIR/keep.ping")
echo "soak: long-lived pods' ping loss over the run: ${loss:-?}"
# kernel memory: within 4 MiB of the baseline (slab caches of 1000 deleted namespaces
# breathe; a leaked table or a leaked object per pod would be far above it)
[ $(( end_kmem - base_kmem )) -lt 4096 ] || fail "kernel memory grew by $(( end_kmem - base_kmem )) kB"
del keep1; del keep2
agent_stop
rmmod vrouter || fail "final rmmod"
echo "soak: ok"
