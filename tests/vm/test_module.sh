# Loading, unloading, and the family's visibility to standard tools.

test_insmod_rmmod_20_times() {
  for i in $(seq 20); do
    load
    genl ctrl get name vrouter >/dev/null 2>&1 || fail "round $i: genl does not see vrouter while loaded"
    rmmod vrouter || fail "round $i: rmmod"
    genl ctrl get name vrouter >/dev/null 2>&1 && fail "round $i: vrouter still registered after rmmod"
  done
  genl ctrl list | grep -q 'Name: vrouter' && fail "genl ctrl list shows vrouter after unload"
  true
}

test_genl_and_ynl_see_what_vrctl_sees() {
  load
  genl ctrl list | grep -q 'Name: vrouter' || fail "genl ctrl list lacks vrouter"
  mkveth vta vtns1; mkveth vtb vtns2
  vrctl vif --add vta --type virtual --vrf 1 >/dev/null
  vrctl vif --add vtb --type physical --vrf 0 >/dev/null
  [ -n "${VR_KSRC:-}" ] || fail "kernel source (for ynl) not found"
  ynl="python3 tests/vm/tools/ynl.py --spec kmod/uapi/vrouter.yaml --schema $VR_KSRC/Documentation/netlink/genetlink.yaml"
  $ynl --dump vif-get --output-json > /tmp/ynl.json || fail "ynl dump"
  expect_eq "ynl names" "$(vrctl vif --list --json | jq -c '[.[].name]')" "$(jq -c '[.[].name]' /tmp/ynl.json)"
  expect_eq "ynl types" "virtual physical" "$(jq -r '[.[].type] | join(" ")' /tmp/ynl.json)"
  # ynl drives the family too: a vhost vif created through it shows up in vrctl
  # (the enum by its name from the spec, the binary MAC as hex: the test kernel's ynl)
  $ynl --do vif-new --json '{"type": "host", "name": "vtvhost0", "mac": "00005e000100"}' >/dev/null \
    || fail "ynl vif-new"
  vrctl vif --list | grep -q 'OS: vtvhost0' || fail "vif made by ynl not listed by vrctl"
}
