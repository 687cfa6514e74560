# The vif table: every type, counters, and bad input.

test_vif_add_get_list_delete_each_type() {
  load
  mkveth vtv vtns1; mkveth vtp vtns2; mkveth vta vtns3
  vrctl vif --add vtv --type virtual --vrf 1 --policy >/dev/null
  vrctl vif --add vtp --type physical --vrf 0 >/dev/null
  vrctl vif --add vta --type agent --vrf 4095 >/dev/null
  vrctl vif --create vtvhost0 --mac 00:00:5e:00:01:00 >/dev/null
  expect_eq "vif count" 4 "$(vif_count)"
  expect_eq "types" "Virtual Physical Agent Host" "$(vrctl vif --list --json | jq -r '[.[].type_name] | join(" ")')"
  expect_eq "vrf of vif0/0" 1 "$(vif_field 0 .vrf)"
  expect_eq "policy flag" P "$(vrctl vif --get 0 | sed -n 's/.*Flags:\(P\).*/\1/p')"
  expect_eq "os index" "$(cat /sys/class/net/vtv/ifindex)" "$(vif_field 0 .os_idx)"
  expect_eq "mac from device" "$(cat /sys/class/net/vtp/address)" "$(vif_field 1 .mac)"
  ip link show vtvhost0 >/dev/null || fail "vhost device not created"
  expect_eq "vhost mac" 00:00:5e:00:01:00 "$(cat /sys/class/net/vtvhost0/address)"
  vrctl vif --list | grep -q '^vif0/2      OS: vta$' || fail "list layout"
  vrctl vif --delete vtv; vrctl vif --delete 1; vrctl vif --delete 2; vrctl vif --delete vtvhost0
  expect_eq "vif count after delete" 0 "$(vif_count)"
  ip link show vtvhost0 >/dev/null 2>&1 && fail "vhost device survived its vif"
  # the devices are free again: a new attach works
  vrctl vif --add vtv --type virtual >/dev/null || fail "re-add after delete"
}

test_vif_counters_follow_traffic() {
  load
  mkveth vtv vtns1
  ip netns exec vtns1 sysctl -qw net.ipv6.conf.all.disable_ipv6=1
  ip -n vtns1 addr add 10.9.0.2/24 dev eth0
  ip -n vtns1 neigh add 10.9.0.1 lladdr 00:00:5e:00:01:00 dev eth0
  vrctl vif --add vtv --type virtual --vrf 1 >/dev/null
  ip netns exec vtns1 ping -c 5 -i 0.2 -W 1 10.9.0.1 >/dev/null 2>&1 || true
  sleep 0.5
  expect_eq "rx packets" 5 "$(vif_field 0 .stats.rx_packets)"
  expect_eq "rx bytes (5 x 98-byte frames)" 490 "$(vif_field 0 .stats.rx_bytes)"
  expect_eq "drops (no forwarding state yet)" 5 "$(vif_field 0 .stats.drops)"
  vrctl vif --list | grep -q 'RX packets:5  bytes:490 errors:0' || fail "text listing lacks the counters"
  # per-CPU view: the CPUs' counters add up to the total
  sum=0; for c in 0 1; do sum=$((sum + $(vrctl vif --get 0 --core $c --json | jq .stats.rx_packets))); done
  expect_eq "per-cpu sum" 5 "$sum"
  # the vhost device counts what the host sends through it
  vrctl vif --create vtvhost0 --mac 00:00:5e:00:01:00 >/dev/null
  ip link set vtvhost0 up; ip addr add 10.8.0.1/24 dev vtvhost0
  ip neigh add 10.8.0.2 lladdr 02:00:00:00:00:02 dev vtvhost0
  ping -c 3 -i 0.2 -W 1 10.8.0.2 >/dev/null 2>&1 || true
  [ "$(vif_field 1 .stats.rx_packets)" -ge 3 ] || fail "vhost rx counter did not move"
}

test_vif_bad_input_changes_nothing() {
  load
  mkveth vtv vtns1
  vrctl vif --add vtv --type virtual --vrf 1 >/dev/null
  before=$(vrctl vif --list --json | jq -c "map(del(.stats))")
  ynl="python3 tests/vm/tools/ynl.py --spec kmod/uapi/vrouter.yaml --schema $VR_KSRC/Documentation/netlink/genetlink.yaml"
  out=$($ynl --do vif-new --json '{"type": 9, "name": "vtv"}' 2>&1) && fail "unknown type accepted"
  case "$out" in *"unknown vif type"*) ;; *) fail "unknown type: $out";; esac
  out=$($ynl --do vif-new --json '{"type": 3}' 2>&1) && fail "missing ifname accepted"
  case "$out" in *"missing interface name"*) ;; *) fail "missing ifname: $out";; esac
  out=$($ynl --do vif-new --json '{"type": 3, "os-idx": 99999}' 2>&1) && fail "bad ifindex accepted"
  case "$out" in *"no net_device with that ifindex"*) ;; *) fail "bad ifindex: $out";; esac
  ip link add vtw type veth peer name vtw2
  expect_fail 65 "vif index beyond the table size (vr_interfaces) (ERANGE)" vrctl vif --add vtw --type virtual --vif 4352
  expect_fail 65 "device already attached as a vif (only its flags may change) (EEXIST)" vrctl vif --add vtv --type virtual
  expect_fail 65 "no such vif (ENOENT)" vrctl vif --delete 77
  expect_fail 65 "no vif with that name (ENOENT)" vrctl vif --delete nosuchif
  expect_fail 65 "no net_device with that name (ENODEV)" vrctl vif --add nosuchif --type virtual
  expect_fail 65 "vif index in use (EEXIST)" vrctl vif --add vtw --type virtual --vif 0
  expect_fail 65 "vrf beyond the limit (vr_vrfs) (ERANGE)" vrctl vif --add vtw --type virtual --vrf 4096
  expect_fail 64 "bad MAC address" vrctl vif --create vtvh --mac 00:11
  python3 tests/vm/raw_genl.py wrong-length || fail "attribute of the wrong length was not rejected"
  python3 tests/vm/raw_genl.py unknown-attr || fail "unknown attribute was not rejected"
  # without CAP_NET_ADMIN: reads work, changes are refused with EPERM
  setpriv --reuid=65534 --regid=65534 --clear-groups vrctl vif --list >/dev/null || fail "unprivileged list"
  expect_fail 77 "EPERM" setpriv --reuid=65534 --regid=65534 --clear-groups vrctl vif --add vtw --type virtual
  expect_fail 77 "EPERM" setpriv --reuid=65534 --regid=65534 --clear-groups vrctl vif --delete 0
  expect_eq "table unchanged" "$before" "$(vrctl vif --list --json | jq -c "map(del(.stats))")"
  ip link del vtw
}

test_rmmod_with_vifs_and_traffic() {
  load
  mkveth vta vtns1; mkveth vtb vtns2
  vrctl vif --add vta --type virtual --vrf 1 >/dev/null
  vrctl vif --add vtb --type physical >/dev/null
  vrctl vif --create vtvhost0 --mac 00:00:5e:00:01:00 >/dev/null
  ip -n vtns1 addr add 10.9.0.2/24 dev eth0
  ip netns exec vtns1 ping -f -w 4 10.9.0.1 >/dev/null 2>&1 &
  sleep 1.5
  [ "$(vif_field 0 .stats.rx_packets)" -gt 0 ] || fail "no traffic reached the vif"
  rmmod vrouter || fail "rmmod with vifs attached"
  wait
  grep -q '^vrouter ' /proc/modules && fail "module still loaded"
  ip link show vtvhost0 >/dev/null 2>&1 && fail "vhost device left behind"
  # the veth is an ordinary device again: the namespace reaches the host through it
  ip addr add 10.9.0.1/24 dev vta
  ip netns exec vtns1 ping -c 2 -W 2 10.9.0.1 >/dev/null || fail "veth unusable after rmmod"
}

test_deleting_the_device_removes_its_vif() {
  load
  mkveth vta vtns1
  vrctl vif --add vta --type virtual >/dev/null
  ip link del vta
  expect_eq "vifs after ip link del" 0 "$(vif_count)"
}
