#!/usr/bin/env bash
# CNI ADD / DEL latency over N pods (default 100), executed as a runtime does: ours (agent +
# vrouter.ko) vs the reference bridge plugin with host-local IPAM, in the same VM boot.
# Prints p50/p99 per plugin and the ratios. Run inside the VM from the checkout's top.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/vm/lib.sh
. tests/vm/agent_lib.sh
N=${N:-100}
REF=/usr/lib/cni
cleanup; load; AGENT_LOG_LEVEL=warn agent_start
OUR='{"cniVersion":"1.0.0","name":"vrouter","type":"vrouter-cni","contrail":{"poll-timeout":0.05,"poll-retries":100}}'
BR='{"cniVersion":"1.0.0","name":"br","type":"bridge","bridge":"vtbr0","isGateway":true,"ipam":{"type":"host-local","ranges":[[{"subnet":"10.98.0.0/16"}]],"dataDir":"/tmp/vt-hostlocal"}}'
ms() { echo $(( $(date +%s%N) / 1000 )); }
run() { # run <cmd> <plugin path> <conf> <i>
  echo "$3" | env -i PATH="$PATH" CNI_COMMAND="$1" CNI_CONTAINERID="lat$4" CNI_NETNS="/run/netns/vtl$4" CNI_IFNAME=eth0 \
    CNI_PATH="$REF" CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=lat$4;K8S_POD_UID=$(cat /proc/sys/kernel/random/uuid)" "$2" >/dev/null 2>>/tmp/vt-lat.err
}
pct() { sort -n | awk -v p="$1" '{a[NR]=$1} END {i=int(NR*p/100+0.999); if(i<1)i=1; print a[i]}'; }
measure() { # measure <name> <plugin path> <conf>: prints "name add_p50 add_p99 del_p50 del_p99" (microseconds)
  local add=() del=() t i
  for i in $(seq "$N"); do ip netns add "vtl$i"; done
  for i in $(seq "$N"); do t=$(ms); run ADD "$2" "$3" "$i" || { echo "$1 ADD $i failed" >&2; exit 1; }; add+=($(( $(ms) - t ))); done
  for i in $(seq "$N"); do t=$(ms); run DEL "$2" "$3" "$i" || { echo "$1 DEL $i failed" >&2; exit 1; }; del+=($(( $(ms) - t ))); done
  for i in $(seq "$N"); do ip netns del "vtl$i"; done
  echo "$1 $(printf '%s\n' "${add[@]}" | pct 50) $(printf '%s\n' "${add[@]}" | pct 99) $(printf '%s\n' "${del[@]}" | pct 50) $(printf '%s\n' "${del[@]}" | pct 99)"
}
read -r _ oa50 oa99 od50 od99 < <(measure vrouter "$PWD/target/release/vrouter-cni" "$OUR")
read -r _ ba50 ba99 bd50 bd99 < <(measure bridge "$REF/bridge" "$BR")
ip link del vtbr0 2>/dev/null || true
printf 'cni latency over %d pods (ms)   ADD p50   ADD p99   DEL p50   DEL p99\n' "$N"
f() { awk -v v="$1" 'BEGIN {printf "%9.1f", v / 1000}'; }
printf '  vrouter-cni + agent      %s %s %s %s\n' "$(f $oa50)" "$(f $oa99)" "$(f $od50)" "$(f $od99)"
printf '  bridge + host-local      %s %s %s %s\n' "$(f $ba50)" "$(f $ba99)" "$(f $bd50)" "$(f $bd99)"
awk -v a="$oa50" -v b="$ba50" -v c="$od50" -v d="$bd50" \
  'BEGIN {printf "  ratio ours/bridge: ADD p50 %.2f (goal <= 0.5), DEL p50 %.2f\n", a / b, c / d}'
cleanup
