# The generic-netlink fuzzer (tests/vm/tools/genl_fuzz.py, driven by kmod/uapi/vrouter.yaml)
# against a live datapath: the L3 topology with vifs, nexthops, routes, flows and traffic.
# `make test` runs a bounded number with a fixed seed; `make fuzz` runs 10^6 with a new
# seed (VR_FUZZ_COUNT, VR_FUZZ_SEED). Kernel warnings, BUGs and oopses fail the run
# (qemu/vm-run.sh reads the console).

. tests/vm/l3_lib.sh

FUZZ_NAMES=vta,vtb,vtc,vtd,vtvhost0,lo,vtfuzz0
fuzz() {
  python3 tests/vm/tools/genl_fuzz.py --names "$FUZZ_NAMES" --seed "${VR_FUZZ_SEED:-7447}" "$@"
}
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
hexip() { printf '%02x' ${1//./ }; }

test_fuzz_unprivileged_requests_are_refused_and_change_nothing() {
  setup
  # two flow entries, so the flow table is part of what must not change
  for p in 1000 1001; do
    ynl --do flow-new --json "{\"vrf\": 1, \"family\": \"inet\", \"proto\": 17, \"src\": \"$(hexip 10.1.0.2)\", \"dst\": \"$(hexip 10.1.0.3)\", \"sport\": $p, \"dport\": 53, \"action\": \"forward\"}" >/dev/null \
      || fail "flow not added"
  done
  # every admin request is EPERM, and vifs, nexthops, routes and flows are as they were
  as_nobody python3 tests/vm/tools/genl_fuzz.py --names "$FUZZ_NAMES" --seed 17 --unprivileged \
    --count "${VR_FUZZ_UNPRIV_COUNT:-3000}" || fail "unprivileged fuzzing"
  expect_eq "flows after" 2 "$(ynl --dump flow-get --output-json | jq length)"
}

test_fuzz_root_requests_on_a_live_datapath() {
  VIF_POLICY=1 setup
  # traffic for the whole run (no agent: new flows Hold and park their packets)
  ip netns exec vtnsa ping -q -i 0.05 10.1.0.3 >/dev/null 2>&1 &
  ip netns exec vtnsb ping -q -i 0.05 10.1.0.4 >/dev/null 2>&1 &
  ip netns exec vtnsd ping -q -i 0.05 -s 1400 10.1.0.2 >/dev/null 2>&1 &
  sleep 1
  ip link add vtfuzz0 type veth peer name vtfuzz1  # a spare device the fuzzer may attach
  fuzz --count "${VR_FUZZ_COUNT:-20000}" || fail "fuzzing as root"
  # the module still answers, and unloads with whatever the fuzzer left attached
  vrctl vif --list >/dev/null || fail "vif listing after fuzzing"
  vrctl flow -l >/dev/null || fail "flow listing after fuzzing"
  rmmod vrouter || fail "rmmod after fuzzing"
  pkill -x ping || true
  if [ -w /sys/kernel/debug/kmemleak ] && echo scan > /sys/kernel/debug/kmemleak 2>/dev/null; then
    echo scan > /sys/kernel/debug/kmemleak
    leaks=$(grep -c "vrouter\|vr_" /sys/kernel/debug/kmemleak || true)
    expect_eq "kmemleak reports naming vrouter" 0 "$leaks"
  fi
}
