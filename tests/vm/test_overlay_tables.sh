# The overlay's tables (issue 13, first slice): the MPLS input label table and the VXLAN
# VNI table (label/VNI -> nexthop), and Tunnel nexthops (MPLSoUDP, MPLSoGRE, VXLAN),
# driven through vrctl: create, get, dump, replace, delete; bad input refused with the
# kernel's errno and message and nothing changed; unprivileged callers only read; a packet
# routed to a tunnel that cannot send it (an IPv6 underlay, not built yet) is dropped as
# "Invalid NH", never sent bare; the module unloads with all of it installed. Traffic through tunnels:
# test_overlay_tunnel.sh.
#
# Layout: vif0/0 vtvhost0 (10.255.0.1, fd00:ff::1), vif0/1 vtfab (physical, a veth whose
# peer vtfab2 stands for the fabric), Receive nexthop 1.

. tests/vm/l3_lib.sh

FMAC=02:00:00:00:0f:01 # the fabric vif's MAC
RMAC=02:00:00:00:0f:02 # the underlay next hop's MAC

overlay_setup() {
  load "$@"
  vrctl vif --create vtvhost0 --mac $GW --ip 10.255.0.1 --ip6 fd00:ff::1 >/dev/null
  ip link add vtfab address $FMAC type veth peer name vtfab2
  for l in vtfab vtfab2; do sysctl -qw net.ipv6.conf.$l.disable_ipv6=1; ip link set $l up; done
  vrctl vif --add vtfab --type physical >/dev/null
  vrctl nh --create 1 --type rcv --oif 0 >/dev/null
}

# tunnel <id> <flags option or ""> [more options]: a tunnel to 10.255.0.2 out of vif 1
tunnel() {
  local id=$1 flag=$2; shift 2
  vrctl nh --create "$id" --type 3 --oif 1 --smac $FMAC --dmac $RMAC \
    --sip 10.255.0.1 --dip 10.255.0.2 $flag "$@" >/dev/null
}

# the tables as dumps show them (the bad-input tests compare before and after)
tables() { vrctl mpls --dump --json; vrctl vxlan --dump --json; vrctl nh --list --json; }

test_overlay_tables_through_vrctl() {
  overlay_setup
  tunnel 21 --udp; tunnel 22 ""; tunnel 23 --vxlan
  vrctl nh --create 24 --type tunnel --oif 1 --sip fd00:ff::1 --dip fd00:ff::2 --vxlan >/dev/null
  # nh --get in TF's layout
  expect_eq "MPLSoUDP tunnel" "Id:21         Type:Tunnel         Fmly: AF_INET  Rid:0  Ref_cnt:1          Vrf:0
              Flags:Valid, MPLSoUDP,
              Oif:1 Len:14 Data:02 00 00 00 0f 02 02 00 00 00 0f 01 08 00
              Sip:10.255.0.1 Dip:10.255.0.2" "$(vrctl nh --get 21)"
  vrctl nh --get 22 | grep -qx '              Flags:Valid, MPLSoGRE,' || fail "GRE flags: $(vrctl nh --get 22)"
  vrctl nh --get 23 | grep -qx '              Flags:Valid, Vxlan,' || fail "VXLAN flags: $(vrctl nh --get 23)"
  vrctl nh --get 24 | grep -q '^Id:24 .*Fmly:AF_INET6' || fail "IPv6 tunnel family: $(vrctl nh --get 24)"
  vrctl nh --get 24 | grep -qx '              Sip: fd00:ff::1 Dip: fd00:ff::2' || fail "IPv6 tunnel: $(vrctl nh --get 24)"
  vrctl nh --get 24 | grep -qx '              Oif:1 Len:0 Data:' || fail "no underlay header: $(vrctl nh --get 24)"
  expect_eq "tunnel json" '"10.255.0.1 10.255.0.2 1 Valid,MPLSoUDP"' \
    "$(vrctl nh --get 21 --json | jq '"\(.sip) \(.dip) \(.oif) \(.flag_names | join(","))"')"
  expect_eq "tunnels listed" "21 22 23 24" "$(vrctl nh --list --json | jq -r '[.[] | select(.type_name == "Tunnel") | .id] | join(" ")')"

  # MPLS labels: the table of vr_mpls_labels (default 5120) entries
  vrctl mpls --create 16 --nh 1 >/dev/null
  expect_eq "create --json" '{"label":42,"nh":21,"rid":0}' "$(vrctl mpls --create 42 --nh 21 --json | jq -c .)"
  vrctl mpls --create 5119 --nh 22 >/dev/null
  expect_eq "mpls --dump" "MPLS Input Label Map

   Label    NextHop
-------------------
      16         1
      42        21
    5119        22" "$(vrctl mpls --dump)"
  expect_eq "mpls --get" "MPLS Input Label Map

   Label    NextHop
-------------------
      42        21" "$(vrctl mpls --get 42)"
  expect_eq "mpls --dump --json" "16:1 42:21 5119:22" "$(vrctl mpls --dump --json | jq -r 'map("\(.label):\(.nh)") | join(" ")')"
  # a label holds its nexthop: replacing moves the reference, deleting frees it
  expect_eq "nh 21 refs" 2 "$(vrctl nh --get 21 --json | jq .ref_cnt)"
  vrctl mpls --create 42 --nh 22 >/dev/null
  expect_eq "replaced" 22 "$(vrctl mpls --get 42 --json | jq .nh)"
  expect_eq "nh 21 refs after the replace" 1 "$(vrctl nh --get 21 --json | jq .ref_cnt)"
  expect_eq "nh 22 refs" 3 "$(vrctl nh --get 22 --json | jq .ref_cnt)"
  expect_fail 65 "nexthop in use by routes, composites, MPLS labels or VXLAN VNIs (EBUSY)" vrctl nh --delete 22
  vrctl mpls --delete 5119
  expect_fail 65 "no such label (ENOENT)" vrctl mpls --get 5119
  expect_eq "after delete" "16 42" "$(vrctl mpls --dump --json | jq -r 'map(.label) | join(" ")')"

  # VXLAN VNIs: 24 bits, across chunks of the sparse table
  vrctl vxlan --create 4 --nh 23 >/dev/null
  vrctl vxlan --create 4096 --nh 23 >/dev/null
  vrctl vxlan --create 16777215 --nh 1 >/dev/null
  expect_eq "vxlan --dump" "VXLAN Table

 VNID    NextHop
----------------
      4    23
   4096    23
16777215    1" "$(vrctl vxlan --dump)"
  expect_eq "vxlan --get" "VXLAN Table

 VNID    NextHop
----------------
   4096    23" "$(vrctl vxlan --get 4096)"
  expect_eq "nh 23 refs" 3 "$(vrctl nh --get 23 --json | jq .ref_cnt)"
  vrctl vxlan --delete 4096 # the last VNI of its chunk: the chunk goes too
  expect_fail 65 "no such VNI (ENOENT)" vrctl vxlan --get 4096
  vrctl vxlan --create 4097 --nh 22 >/dev/null # and comes back
  expect_eq "vxlan after delete" "4:23 4097:22 16777215:1" "$(vrctl vxlan --dump --json | jq -r 'map("\(.vni):\(.nh)") | join(" ")')"
  expect_eq "nh 23 refs after the delete" 2 "$(vrctl nh --get 23 --json | jq .ref_cnt)"

  # vrouter --info: the label limit (TF's line) and the usage
  vrctl vrouter --info | grep -Eq '^    MPLS Labels limit +5120$' || fail "info: $(vrctl vrouter --info)"
  expect_eq "info usage" "5120 2 3" "$(vrctl vrouter --info --json | jq -r '"\(.mpls_labels) \(.mpls_labels_used) \(.vxlan_vnis_used)"')"
  # what vrctl shows is what the kernel's YNL client sees
  expect_eq "ynl mpls dump" "16 42" "$(ynl --dump mpls-get --output-json | jq -r 'map(.label) | join(" ")')"
  expect_eq "ynl vxlan dump" "4 4097 16777215" "$(ynl --dump vxlan-get --output-json | jq -r 'map(.vni) | join(" ")')"
  # the tables empty out
  for l in 16 42; do vrctl mpls --delete $l; done
  for v in 4 4097 16777215; do vrctl vxlan --delete $v; done
  expect_eq "empty mpls" "[]" "$(vrctl mpls --dump --json | jq -c .)"
  expect_eq "empty vxlan" "[]" "$(vrctl vxlan --dump --json | jq -c .)"
  for n in 21 22 23 24; do vrctl nh --delete $n || fail "nh $n still referenced"; done
}

test_overlay_bad_input_changes_nothing() {
  overlay_setup vr_mpls_labels=64
  tunnel 21 --udp
  vrctl mpls --create 16 --nh 21 >/dev/null
  vrctl mpls --create 63 --nh 1 >/dev/null # the last label of a 64-label table
  vrctl vxlan --create 5 --nh 21 >/dev/null
  before=$(tables)
  # labels: beyond vr_mpls_labels, a nexthop that does not exist, missing ones
  expect_fail 65 "label beyond the table size (vr_mpls_labels) (ERANGE)" vrctl mpls --create 64 --nh 1
  expect_fail 65 "label beyond the table size (vr_mpls_labels) (ERANGE)" vrctl mpls --get 64
  expect_fail 65 "no such nexthop (ENOENT)" vrctl mpls --create 17 --nh 999
  expect_fail 65 "no such nexthop (ENOENT)" vrctl mpls --create 16 --nh 30 # a replace too
  expect_fail 65 "no such label (ENOENT)" vrctl mpls --delete 17
  expect_fail 65 "no such label (ENOENT)" vrctl mpls --get 17
  expect_fail 64 "bad label" vrctl mpls --create 0x10 --nh 1
  # VNIs: 24 bits
  expect_fail 65 "VNI beyond 24 bits (at most 16777215) (ERANGE)" vrctl vxlan --create 16777216 --nh 1
  expect_fail 65 "VNI beyond 24 bits (at most 16777215) (ERANGE)" vrctl vxlan --delete 4294967295
  expect_fail 65 "no such nexthop (ENOENT)" vrctl vxlan --create 6 --nh 999
  expect_fail 65 "no such nexthop (ENOENT)" vrctl vxlan --create 70000 --nh 999 # a new chunk
  expect_fail 65 "no such VNI (ENOENT)" vrctl vxlan --delete 6
  expect_fail 65 "no such VNI (ENOENT)" vrctl vxlan --get 70000
  # tunnels: a vif that does not exist, addresses of the wrong length, two tunnel flags
  expect_fail 65 "no vif with that index (oif) (ENOENT)" \
    vrctl nh --create 30 --type 3 --oif 99 --sip 10.255.0.1 --dip 10.255.0.2 --udp
  expect_fail 65 "tunnel addresses must be 4 bytes for AF_INET, 16 for AF_INET6 (the nexthop's family) (EINVAL)" \
    vrctl nh --create 30 --type 3 --oif 1 --sip fd00:ff::1 --dip fd00:ff::2 --family inet
  expect_fail 65 "tunnel addresses must be 4 bytes for AF_INET, 16 for AF_INET6 (the nexthop's family) (EINVAL)" \
    vrctl nh --create 30 --type 3 --oif 1 --sip 10.255.0.1 --dip fd00:ff::2
  expect_fail 65 "tunnel addresses must be 4 bytes for AF_INET, 16 for AF_INET6 (the nexthop's family) (EINVAL)" \
    vrctl nh --create 21 --type 3 --oif 1 --sip 10.255.0.1 --dip 10.255.0.2 --family inet6 # a replace
  expect_fail 64 "--udp and --vxlan exclude each other" \
    vrctl nh --create 30 --type 3 --oif 1 --sip 10.255.0.1 --dip 10.255.0.2 --udp --vxlan
  # what vrctl refuses to send, the kernel refuses too (flags 0x48: MPLSoGRE + MPLSoUDP)
  out=$(ynl --do nh-new --json '{"id": 30, "type": 3, "oif": 1, "flags": 72, "tun-sip": "0aff0001", "tun-dip": "0aff0002"}' 2>&1) \
    && fail "two tunnel flags accepted"
  case "$out" in *"exactly one of the flags MPLSoGRE, MPLSoUDP, VXLAN"*) ;; *) fail "two flags: $out";; esac
  out=$(ynl --do nh-new --json '{"id": 30, "type": 3, "oif": 1, "tun-sip": "0aff0001", "tun-dip": "0aff0002"}' 2>&1) \
    && fail "tunnel without a flag accepted"
  case "$out" in *"exactly one of the flags"*) ;; *) fail "no flag: $out";; esac
  out=$(ynl --do nh-new --json '{"id": 30, "type": 3, "oif": 1, "flags": 64, "tun-sip": "0aff0001"}' 2>&1) \
    && fail "tunnel without tun-dip accepted"
  case "$out" in *"missing tunnel destination address (tun-dip)"*) ;; *) fail "no dip: $out";; esac
  out=$(ynl --do nh-new --json '{"id": 30, "type": 2, "oif": 1, "flags": 64, "encap": "02000000000100005e0001000800"}' 2>&1) \
    && fail "tunnel flag on an encap accepted"
  case "$out" in *"tunnel flags (MPLSoGRE, MPLSoUDP, VXLAN) on a nexthop that is not a tunnel"*) ;; *) fail "flag on encap: $out";; esac
  out=$(ynl --do mpls-new --json '{"label": 20}' 2>&1) && fail "label without a nexthop accepted"
  case "$out" in *"missing nexthop id"*) ;; *) fail "label without nh: $out";; esac
  out=$(ynl --do vxlan-new --json '{"nh-id": 1}' 2>&1) && fail "VNI without a VNI accepted"
  case "$out" in *"missing VNI"*) ;; *) fail "no VNI: $out";; esac
  expect_eq "tables unchanged" "$before" "$(tables)"
  expect_eq "refs unchanged" 3 "$(vrctl nh --get 21 --json | jq .ref_cnt)"
  # unprivileged: reads work, changes are refused
  nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
  nobody vrctl mpls --dump >/dev/null || fail "unprivileged mpls dump"
  nobody vrctl vxlan --get 5 >/dev/null || fail "unprivileged vxlan get"
  nobody vrctl nh --get 21 >/dev/null || fail "unprivileged nh get"
  expect_fail 77 "EPERM" nobody vrctl mpls --create 20 --nh 1
  expect_fail 77 "EPERM" nobody vrctl mpls --delete 16
  expect_fail 77 "EPERM" nobody vrctl vxlan --create 7 --nh 1
  expect_fail 77 "EPERM" nobody vrctl vxlan --delete 5
  expect_fail 77 "EPERM" nobody vrctl nh --create 31 --type 3 --oif 1 --sip 10.255.0.1 --dip 10.255.0.3 --vxlan
  expect_eq "tables unchanged by nobody" "$before" "$(tables)"
  # vr_mpls_labels is checked at load like the other sizes
  rmmod vrouter
  insmod "$KO" vr_mpls_labels=8 2>/dev/null && fail "vr_mpls_labels=8 (below 16) loaded"
  dmesg | tail -5 | grep -q 'vr_mpls_labels=8 is outside 16..1048576' || fail "no message for vr_mpls_labels=8"
}

test_overlay_packets_to_an_unusable_tunnel_are_dropped_not_sent() {
  overlay_setup
  pod vtnsa vta 1 10.1.0.2
  route 1 10.1.0.1/32 1 -P
  # the datapath does not build an IPv6 underlay yet
  vrctl nh --create 21 --type tunnel --oif 1 --sip fd00:ff::1 --dip fd00:ff::2 --udp >/dev/null
  route 1 10.2.0.0/16 21 "-t 100"
  before=$(drops invalid_nh); fab=$(tx 1); peer=$(cat /sys/class/net/vtfab2/statistics/rx_packets)
  ip netns exec vtnsa ping -c 3 -i 0.2 -W 1 10.2.0.5 >/dev/null 2>&1 && fail "a ping through a tunnel was answered"
  expect_eq "Invalid NH drops" $((before + 3)) "$(drops invalid_nh)"
  expect_eq "fabric vif tx" "$fab" "$(tx 1)"
  expect_eq "fabric peer rx" "$peer" "$(cat /sys/class/net/vtfab2/statistics/rx_packets)"
  expect_eq "no tunnel counted" 0 "$(vrctl vrfstats --get 1 --json | jq '.udp_mpls_tunnels + .gre_mpls_tunnels + .vxlan_tunnels')"
}

test_overlay_unload_with_labels_vnis_and_tunnels() {
  overlay_setup
  tunnel 21 --udp; tunnel 22 ""; tunnel 23 --vxlan
  for l in $(seq 16 215); do
    vrctl mpls --create "$l" --nh $((21 + l % 3)) >/dev/null || fail "label $l"
  done
  for v in 1 4096 70000 1048576 16777215; do vrctl vxlan --create $v --nh 23 >/dev/null; done
  route 0 10.2.0.0/16 21
  expect_eq "labels" 200 "$(vrctl mpls --dump --json | jq length)"
  expect_eq "vnis" 5 "$(vrctl vxlan --dump --json | jq length)"
  rmmod vrouter || fail "rmmod with labels, VNIs and tunnels"
  grep -q '^vrouter ' /proc/modules && fail "module still loaded"
  # and it loads again with empty tables
  load
  expect_eq "labels after reload" "[]" "$(vrctl mpls --dump --json | jq -c .)"
  expect_eq "vnis after reload" "[]" "$(vrctl vxlan --dump --json | jq -c .)"
}
