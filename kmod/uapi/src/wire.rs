// The wire contract of the `vrouter` generic netlink family: family name, multicast groups,
// commands, attribute sets and enums. This one file is the source of truth. The kernel module
// compiles it (`#[path]` include, no_std, no alloc); userspace gets it through the
// `vrouter-uapi` crate; `vr-uapi-gen` writes the C header used by the module's glue
// (policies) and the YNL spec `kmod/uapi/vrouter.yaml` from the tables below, and a test
// fails when the checked-in copies are stale.
//
// Keep it free of crate-level attributes and of anything but `core`.

/// Generic netlink family name and version.
pub const FAMILY_NAME: &str = "vrouter";
pub const FAMILY_VERSION: u8 = 1;

/// Multicast groups (YNL `mcast-groups`), in registration order.
pub const MCGRP_CONFIG: &str = "config";
pub const MCGRP_FLOWS: &str = "flows";
pub const MCAST_GROUPS: &[&str] = &[MCGRP_CONFIG, MCGRP_FLOWS];

/// Limits shared by both sides.
pub const IFNAME_MAX: usize = 15; // IFNAMSIZ - 1
pub const MAC_LEN: usize = 6;

/// How an attribute is encoded and validated (mirrored into the kernel's `nla_policy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttrKind {
    U8,
    U16,
    U32,
    U64,
    Flag,
    /// NUL-terminated string of at most `max` characters.
    String {
        max: usize,
    },
    /// Binary of exactly `len` bytes.
    Exact {
        len: usize,
    },
    /// Binary of at most `max` bytes.
    Binary {
        max: usize,
    },
    /// Nested attributes of another set (named by its `name`).
    Nest {
        set: &'static str,
    },
    /// Alignment padding for 64-bit values (`nla_put_64bit`).
    Pad,
}

#[derive(Clone, Copy, Debug)]
pub struct AttrDef {
    /// Upper-case Rust/C name, e.g. `OS_IDX`; YNL uses `os-idx`.
    pub name: &'static str,
    pub id: u16,
    pub kind: AttrKind,
    /// Enum (YNL definition) whose values this attribute carries, if any.
    pub enum_name: Option<&'static str>,
    pub doc: &'static str,
}

#[derive(Clone, Copy, Debug)]
pub struct AttrSet {
    /// YNL name, e.g. `vif`; C prefix `VR_VIF_ATTR_`.
    pub name: &'static str,
    pub attrs: &'static [AttrDef],
}

impl AttrSet {
    pub const fn max(&self) -> u16 {
        let mut i = 0;
        let mut max = 0;
        while i < self.attrs.len() {
            if self.attrs[i].id > max {
                max = self.attrs[i].id;
            }
            i += 1;
        }
        max
    }
}

/// Declares an attribute set: a module of `pub const NAME: u16` ids plus its `SET` table.
macro_rules! attr_set {
    ($module:ident, $name:literal, {
        $( $(#[doc = $doc:literal])* $attr:ident = $id:literal : $kind:expr $(, enum $enum_name:literal)? ; )*
    }) => {
        pub mod $module {
            #[allow(unused_imports)]
            use super::AttrKind::*;
            $( $(#[doc = $doc])* pub const $attr: u16 = $id; )*
            pub static SET: super::AttrSet = super::AttrSet {
                name: $name,
                attrs: &[ $( super::AttrDef {
                    name: stringify!($attr),
                    id: $id,
                    kind: $kind,
                    enum_name: attr_set!(@enum $($enum_name)?),
                    doc: concat!($($doc),*),
                }, )* ],
            };
            pub const MAX: u16 = SET.max();
        }
    };
    (@enum $e:literal) => { Some($e) };
    (@enum) => { None };
}

#[derive(Clone, Copy, Debug)]
pub struct EnumDef {
    /// YNL name, e.g. `vif-type`.
    pub name: &'static str,
    /// `true` for bit flags (values are masks).
    pub flags: bool,
    /// (UPPER_NAME, value, short symbol or display name)
    pub entries: &'static [(&'static str, u32, &'static str)],
}

impl EnumDef {
    pub fn by_value(&self, value: u32) -> Option<&'static (&'static str, u32, &'static str)> {
        self.entries.iter().find(|e| e.1 == value)
    }
}

/// Declares an enum: a module of `pub const NAME: u32` values plus its `DEF` table.
macro_rules! enum_def {
    ($module:ident, $name:literal, flags = $flags:literal, {
        $( $entry:ident = $value:literal => $display:literal ; )*
    }) => {
        pub mod $module {
            $( pub const $entry: u32 = $value; )*
            pub static DEF: super::EnumDef = super::EnumDef {
                name: $name,
                flags: $flags,
                entries: &[ $( (stringify!($entry), $value, $display), )* ],
            };
        }
    };
}

/// A command: its number, the attribute set it speaks, whether it changes state
/// (needs CAP_NET_ADMIN) and whether GET supports NLM_F_DUMP.
#[derive(Clone, Copy, Debug)]
pub struct CmdDef {
    pub name: &'static str,
    pub id: u8,
    pub set: &'static str,
    pub admin: bool,
    pub dump: bool,
    /// A notification the kernel sends on this multicast group (never a request).
    pub event: Option<&'static str>,
    pub doc: &'static str,
}

// ---------------------------------------------------------------------------------------
// Enums

enum_def!(vif_type, "vif-type", flags = false, {
    HOST = 0 => "Host";
    AGENT = 1 => "Agent";
    PHYSICAL = 2 => "Physical";
    VIRTUAL = 3 => "Virtual";
});

// Interface flags, bit values and symbols as in TF's `vif --list`.
enum_def!(vif_flag, "vif-flags", flags = true, {
    POLICY = 0x1 => "P";
    XCONNECT = 0x2 => "X";
    SERVICE_IF = 0x4 => "S";
    MIRROR_RX = 0x8 => "Mr";
    MIRROR_TX = 0x10 => "Mt";
    TX_CSUM_OFFLOAD = 0x20 => "Tc";
    L3_ENABLED = 0x40 => "L3";
    L2_ENABLED = 0x80 => "L2";
    DHCP_ENABLED = 0x100 => "D";
    VHOST_PHYS = 0x200 => "Vp";
    PROMISCUOUS = 0x400 => "Pr";
    NATIVE_VLAN_TAG = 0x800 => "Vnt";
    NO_ARP_PROXY = 0x1000 => "Mnp";
    PMD = 0x2000 => "Dpdk";
    FILTERING_OFFLOAD = 0x4000 => "Rfl";
    MONITORED = 0x8000 => "Mon";
    UNKNOWN_UC_FLOOD = 0x10000 => "Uuf";
    VLAN_OFFLOAD = 0x20000 => "Vof";
    DROP_NEW_FLOWS = 0x40000 => "Df";
    MAC_LEARN = 0x80000 => "L";
    MAC_PROXY = 0x100000 => "Proxy";
    ETREE_ROOT = 0x200000 => "Er";
});

/// Flags userspace may set on VIF_NEW; the rest are reserved for features not built yet.
pub const VIF_FLAGS_SETTABLE: u32 = vif_flag::POLICY
    | vif_flag::L3_ENABLED
    | vif_flag::L2_ENABLED
    | vif_flag::DHCP_ENABLED
    | vif_flag::VHOST_PHYS
    | vif_flag::PROMISCUOUS
    | vif_flag::NO_ARP_PROXY
    | vif_flag::UNKNOWN_UC_FLOOD
    | vif_flag::DROP_NEW_FLOWS
    | vif_flag::MAC_PROXY;

enum_def!(addr_family, "addr-family", flags = false, {
    INET = 2 => "AF_INET";
    INET6 = 10 => "AF_INET6";
});

// Nexthop types, numbered as in TF (`nh --create --type N`), with `nh --list` names.
enum_def!(nh_type, "nh-type", flags = false, {
    DEAD = 0 => "Dead";
    RECEIVE = 1 => "Receive";
    ENCAP = 2 => "Encap";
    TUNNEL = 3 => "Tunnel";
    RESOLVE = 4 => "Resolve";
    DISCARD = 5 => "Drop";
    COMPOSITE = 6 => "Composite";
    VRF_TRANSLATE = 7 => "Vrf_Translate";
    L2_RECEIVE = 8 => "L2 Receive";
});

// Nexthop flags (TF bit values) with their `nh --list` names.
enum_def!(nh_flag, "nh-flags", flags = true, {
    VALID = 0x1 => "Valid";
    POLICY = 0x2 => "Policy";
    TUNNEL_GRE = 0x8 => "MPLSoGRE";
    TUNNEL_UDP_MPLS = 0x40 => "MPLSoUDP";
    TUNNEL_VXLAN = 0x80 => "Vxlan";
    COMPOSITE_ECMP = 0x400 => "Ecmp";
});

/// The encapsulations of a Tunnel nexthop: it carries exactly one of them.
pub const NH_TUNNEL_FLAGS: u32 =
    nh_flag::TUNNEL_GRE | nh_flag::TUNNEL_UDP_MPLS | nh_flag::TUNNEL_VXLAN;

/// Flags userspace may set on NH_NEW (VALID is set by the kernel).
pub const NH_FLAGS_SETTABLE: u32 = nh_flag::POLICY | nh_flag::COMPOSITE_ECMP | NH_TUNNEL_FLAGS;

// Route flags (TF bit values) with their `rt --dump` letters.
enum_def!(rt_flag, "rt-flags", flags = true, {
    LABEL_VALID = 0x1 => "L";
    PROXY_ARP = 0x2 => "P";
    TRAP_ARP = 0x4 => "T";
    FLOOD_ARP = 0x8 => "F";
});

// Flow actions, numbered as in TF (`vr_flow.h`), with `flow -l` letters.
enum_def!(flow_action, "flow-action", flags = false, {
    DROP = 0 => "D";
    HOLD = 1 => "H";
    FORWARD = 2 => "F";
    NAT = 3 => "N";
});

// Flow flags (TF bit values). The NAT bits say which fields the entry rewrites from its
// reverse entry's key; the rest are kept by the kernel.
enum_def!(flow_flag, "flow-flags", flags = true, {
    ACTIVE = 0x1 => "A";
    SNAT = 0x2 => "S";
    SPAT = 0x4 => "Ps";
    DNAT = 0x8 => "D";
    DPAT = 0x10 => "Pd";
    NEW_FLOW = 0x200 => "N";
    EVICT_CANDIDATE = 0x400 => "Ec";
    RFLOW_VALID = 0x1000 => "R";
});

/// Flags userspace may set on FLOW_NEW: the NAT rewrites.
pub const FLOW_FLAGS_SETTABLE: u32 =
    flow_flag::SNAT | flow_flag::SPAT | flow_flag::DNAT | flow_flag::DPAT;

// TCP state the datapath tracks per entry, for its own direction (the `r` letters of
// `flow -l` are the reverse entry's). Bit values as TF's `fe_tcp_flags`.
enum_def!(flow_tcp, "flow-tcp", flags = true, {
    FIN = 0x1 => "F";
    HALF_CLOSE = 0x2 => "C";
    SYN = 0x8 => "S";
    ESTABLISHED = 0x20 => "E";
    RST = 0x80 => "R";
    DEAD = 0x8000 => "D";
});

// Why a packet was dropped. Values are indexes into DROPSTATS counters; the order is the
// print order of TF's `dropstats`, the display strings its labels.
enum_def!(drop_reason, "drop-reason", flags = false, {
    INVALID_IF = 0 => "Invalid IF";
    INVALID_ARP = 1 => "Invalid ARP";
    TRAP_NO_IF = 2 => "Trap No IF";
    IF_TX_DISCARD = 3 => "IF TX Discard";
    IF_DROP = 4 => "IF Drop";
    IF_RX_DISCARD = 5 => "IF RX Discard";
    FLOW_UNUSABLE = 6 => "Flow Unusable";
    FLOW_NO_MEMORY = 7 => "Flow No Memory";
    FLOW_TABLE_FULL = 8 => "Flow Table Full";
    FLOW_NAT_NO_RFLOW = 9 => "Flow NAT no rflow";
    FLOW_ACTION_DROP = 10 => "Flow Action Drop";
    FLOW_ACTION_INVALID = 11 => "Flow Action Invalid";
    FLOW_INVALID_PROTOCOL = 12 => "Flow Invalid Protocol";
    FLOW_QUEUE_LIMIT = 13 => "Flow Queue Limit Exceeded";
    NEW_FLOWS = 14 => "New Flow Drops";
    FLOW_EVICT = 15 => "Flow Unusable (Eviction)";
    TRAP_ORIGINAL = 16 => "Original Packet Trapped";
    DISCARD = 17 => "Discards";
    TTL_EXCEEDED = 18 => "TTL Exceeded";
    MCAST_CLONE_FAIL = 19 => "Mcast Clone Fail";
    INVALID_NH = 20 => "Invalid NH";
    INVALID_LABEL = 21 => "Invalid Label";
    INVALID_PROTOCOL = 22 => "Invalid Protocol";
    LEAF_TO_LEAF = 23 => "Etree Leaf to Leaf";
    BMAC_ISID_MISMATCH = 24 => "Bmac/ISID Mismatch";
    REWRITE_FAIL = 25 => "Rewrite Fail";
    INVALID_MCAST_SOURCE = 26 => "Invalid Mcast Source";
    PKT_LOOP = 27 => "Packet Loop";
    PUSH = 28 => "Push Fails";
    PULL = 29 => "Pull Fails";
    DUPLICATED = 30 => "Duplicate";
    HEAD_ALLOC_FAIL = 31 => "Head Alloc Fails";
    PCOW_FAIL = 32 => "PCOW fails";
    INVALID_PACKET = 33 => "Invalid Packets";
    MISC = 34 => "Misc";
    NOWHERE_TO_GO = 35 => "Nowhere to go";
    CKSUM_ERR = 36 => "Checksum errors";
    NO_FMD = 37 => "No Fmd";
    INVALID_VNID = 38 => "Invalid VNID";
    FRAGMENTS = 39 => "Fragment errors";
    INVALID_SOURCE = 40 => "Invalid Source";
    MCAST_DF_BIT = 41 => "Jumbo Mcast Pkt with DF Bit";
    L2_NO_ROUTE = 42 => "No L2 Route";
    NO_MEMORY = 43 => "Memory Failures";
    FRAGMENT_QUEUE_FAIL = 44 => "Fragment Queueing Failures";
    NO_CRYPT_PATH = 45 => "No Encrypt Path Failures";
    INVALID_HBS_PKT = 46 => "Invalid HBS received packet";
    NO_FRAG_ENTRY = 47 => "No Fragment Entries";
    ICMP_ERROR = 48 => "ICMP errors";
    CLONE_FAIL = 49 => "Clone Failures";
    INVALID_UNDERLAY_ECMP = 50 => "Invalid underlay ECMP";
});
pub const DROP_REASONS: usize = 51;

// Per-VRF counters (TF's vr_vrf_stats). Values are indexes into VRF_STATS counters; the
// display strings are `vrfstats` labels.
enum_def!(vrf_stat, "vrf-stat", flags = false, {
    DISCARDS = 0 => "Discards";
    RESOLVES = 1 => "Resolves";
    RECEIVES = 2 => "Receives";
    L2_RECEIVES = 3 => "L2 Receives";
    VRF_TRANSLATES = 4 => "Vrf Translates";
    UUC_FLOODS = 5 => "Unknown Unicast Floods";
    ECMP_COMPOSITES = 6 => "Ecmp Composites";
    L2_MCAST_COMPOSITES = 7 => "L2 Mcast Composites";
    FABRIC_COMPOSITES = 8 => "Fabric Composites";
    ENCAP_COMPOSITES = 9 => "Encap Composites";
    EVPN_COMPOSITES = 10 => "Evpn Composites";
    UDP_TUNNELS = 11 => "Udp Tunnels";
    UDP_MPLS_TUNNELS = 12 => "Udp Mpls Tunnels";
    GRE_MPLS_TUNNELS = 13 => "Gre Mpls Tunnels";
    VXLAN_TUNNELS = 14 => "Vxlan Tunnels";
    L2_ENCAPS = 15 => "L2 Encaps";
    ENCAPS = 16 => "Encaps";
    GROS = 17 => "GROs";
    DIAGS = 18 => "Diags";
    ARP_VIRTUAL_PROXY = 19 => "Arp Virtual Proxys";
    ARP_VIRTUAL_STITCH = 20 => "Arp Virtual Stitchs";
    ARP_VIRTUAL_FLOOD = 21 => "Arp Virtual Floods";
    ARP_PHYSICAL_STITCH = 22 => "Arp Physical Stitchs";
    ARP_TOR_PROXY = 23 => "Arp Tor Proxys";
    ARP_PHYSICAL_FLOOD = 24 => "Arp Physical Floods";
    ND_VIRTUAL_PROXY = 25 => "Nd Virtual Proxys";
});
pub const VRF_STATS: usize = 26;

// ---------------------------------------------------------------------------------------
// Attribute sets

attr_set!(vif_attr, "vif", {
    /// Index in the vif table (vif0/<idx>). Chosen by the kernel on VIF_NEW when absent.
    IDX = 1 : U32;
    /// Interface type.
    TYPE = 2 : U32, enum "vif-type";
    /// Linux ifindex of the attached net_device.
    OS_IDX = 3 : U32;
    /// Linux interface name of the attached net_device.
    NAME = 4 : String { max: super::IFNAME_MAX };
    /// Routing instance the interface belongs to.
    VRF = 5 : U32;
    /// Multicast VRF (65535 when unset).
    MCAST_VRF = 6 : U32;
    /// MAC address the vRouter uses on this interface.
    MAC = 7 : Exact { len: super::MAC_LEN };
    /// Interface flags.
    FLAGS = 8 : U32, enum "vif-flags";
    /// MTU of the attached device.
    MTU = 9 : U32;
    /// IPv4 address as a host-order integer (10.0.0.1 = 0x0a000001).
    IP = 10 : U32;
    /// IPv6 address.
    IP6 = 11 : Exact { len: 16 };
    /// Nexthop that delivers to this interface (0 when none).
    NH_ID = 12 : U32;
    /// References held on this interface.
    REF_CNT = 13 : U32;
    /// Router id (always 0).
    RID = 14 : U32;
    /// GET: CPU whose counters to report, plus one; 0 or absent sums all CPUs.
    CORE = 15 : U32;
    /// Counters (read only).
    STATS = 16 : Nest { set: "vif-stats" };
    /// QoS map index (-1 when unset, carried as u32).
    QOS = 17 : U32;
});

attr_set!(vif_stats_attr, "vif-stats", {
    /// Padding for 64-bit counters.
    PAD = 1 : Pad;
    /// Packets received from the device.
    RX_PACKETS = 2 : U64;
    /// Bytes received from the device.
    RX_BYTES = 3 : U64;
    /// Receive errors.
    RX_ERRORS = 4 : U64;
    /// Packets transmitted on the device.
    TX_PACKETS = 5 : U64;
    /// Bytes transmitted on the device.
    TX_BYTES = 6 : U64;
    /// Transmit errors.
    TX_ERRORS = 7 : U64;
    /// Packets dropped that entered or left through this interface.
    DROPS = 8 : U64;
});

attr_set!(nh_attr, "nh", {
    /// Nexthop id (index in the nexthop table; 0 is the discard nexthop).
    ID = 1 : U32;
    /// Nexthop type.
    TYPE = 2 : U32, enum "nh-type";
    /// Address family the nexthop serves (AF_INET when absent).
    FAMILY = 3 : U32, enum "addr-family";
    /// Nexthop flags.
    FLAGS = 4 : U32, enum "nh-flags";
    /// VRF of the nexthop.
    VRF = 5 : U32;
    /// Outgoing vif index (Encap: the pod's vif; Receive: the host vif).
    OIF = 6 : U32;
    /// Encap: the Ethernet header to push (dst MAC, src MAC, optional 802.1Q tag, ethertype), 14 or 18 bytes.
    ENCAP = 7 : Binary { max: 256 };
    /// Composite: member nexthop ids, u32 each in host order.
    MEMBERS = 8 : Binary { max: 1024 };
    /// Composite: a label per member, u32 each in host order (optional).
    LABELS = 9 : Binary { max: 1024 };
    /// References held on this nexthop (routes, composites, MPLS labels, VXLAN VNIs).
    REF_CNT = 10 : U32;
    /// Router id (always 0).
    RID = 11 : U32;
    /// Tunnel: outer source address (the vhost's), network byte order: 4 bytes when the nexthop's family is AF_INET, 16 for AF_INET6.
    TUN_SIP = 12 : Binary { max: 16 };
    /// Tunnel: outer destination address (the remote node), as tun-sip.
    TUN_DIP = 13 : Binary { max: 16 };
});

attr_set!(mpls_attr, "mpls", {
    /// Incoming MPLS label (index in the label table, below vr_mpls_labels).
    LABEL = 1 : U32;
    /// Nexthop the label leads to.
    NH_ID = 2 : U32;
    /// Router id (always 0).
    RID = 3 : U32;
});

attr_set!(vxlan_attr, "vxlan", {
    /// VXLAN network identifier (24 bits).
    VNI = 1 : U32;
    /// Nexthop the VNI leads to.
    NH_ID = 2 : U32;
    /// Router id (always 0).
    RID = 3 : U32;
});

attr_set!(rt_attr, "rt", {
    /// VRF of the route.
    VRF = 1 : U32;
    /// Address family.
    FAMILY = 2 : U32, enum "addr-family";
    /// Prefix address, network byte order (4 bytes for AF_INET, 16 for AF_INET6).
    PREFIX = 3 : Binary { max: 16 };
    /// Prefix length.
    PREFIX_LEN = 4 : U32;
    /// Nexthop id.
    NH_ID = 5 : U32;
    /// Label (MPLS label or VNI), valid when the LABEL_VALID flag is set.
    LABEL = 6 : U32;
    /// Route flags.
    FLAGS = 7 : U32, enum "rt-flags";
    /// Stitched MAC: the MAC answered in proxied ARP replies for this route (optional).
    MAC = 8 : Exact { len: super::MAC_LEN };
    /// Length of the longest route that covers this one ("replacement prefix length"), read only.
    PARENT_LEN = 9 : U32;
});

attr_set!(drop_stats_attr, "drop-stats", {
    /// GET: CPU whose counters to report, plus one; 0 or absent sums all CPUs.
    CORE = 1 : U32;
    /// Counters: one u64 (host order) per drop-reason, indexed by its value.
    COUNTERS = 2 : Binary { max: 4096 };
    /// Number of possible CPUs (read only).
    CPUS = 3 : U32;
});

attr_set!(vrf_stats_attr, "vrf-stats", {
    /// VRF.
    VRF = 1 : U32;
    /// GET: CPU whose counters to report, plus one; 0 or absent sums all CPUs.
    CORE = 2 : U32;
    /// Counters: one u64 (host order) per vrf-stat, indexed by its value.
    COUNTERS = 3 : Binary { max: 4096 };
});

attr_set!(info_attr, "info", {
    /// Module version.
    VERSION = 1 : String { max: 63 };
    /// Size of the vif table (vr_interfaces).
    INTERFACES = 2 : U32;
    /// Number of VRFs (vr_vrfs).
    VRFS = 3 : U32;
    /// Size of the nexthop table (vr_nexthops).
    NEXTHOPS = 4 : U32;
    /// Route entries, both families (vr_routes).
    ROUTES = 5 : U32;
    /// Route-table buckets of 256 slots (vr_rt_buckets).
    RT_BUCKETS = 6 : U32;
    /// Vifs in use.
    VIFS_USED = 7 : U32;
    /// Nexthops in use (including the discard nexthop).
    NEXTHOPS_USED = 8 : U32;
    /// IPv4 routes installed.
    ROUTES_V4 = 9 : U32;
    /// IPv6 routes installed.
    ROUTES_V6 = 10 : U32;
    /// Route-table buckets in use.
    RT_BUCKETS_USED = 11 : U32;
    /// Possible CPUs.
    CPUS = 12 : U32;
    /// Route-table operations refused because the storage held an impossible state
    /// (always 0 unless something wrote into the table; each one is also logged).
    RT_INCONSISTENT = 13 : U32;
    /// Size of the MPLS input label table (vr_mpls_labels).
    MPLS_LABELS = 14 : U32;
    /// MPLS labels in use.
    MPLS_LABELS_USED = 15 : U32;
    /// VXLAN VNIs in use.
    VXLAN_VNIS_USED = 16 : U32;
});

attr_set!(flow_attr, "flow", {
    /// Entry index in the flow table (main area first, then overflow).
    INDEX = 1 : U32;
    /// Generation of the entry at INDEX: bumped each time the slot is reused, so a
    /// verdict for a flow that is gone is refused.
    GEN = 2 : U32;
    /// Key: VRF of the packet.
    VRF = 3 : U32;
    /// Key: address family.
    FAMILY = 4 : U32, enum "addr-family";
    /// Key: IP protocol.
    PROTO = 5 : U8;
    /// Key: source address, network byte order (4 bytes for AF_INET, 16 for AF_INET6).
    SRC = 6 : Binary { max: 16 };
    /// Key: destination address, network byte order.
    DST = 7 : Binary { max: 16 };
    /// Key: source port (ICMP echo request: the identifier), host order.
    SPORT = 8 : U16;
    /// Key: destination port (ICMP echo reply: the identifier), host order.
    DPORT = 9 : U16;
    /// Action.
    ACTION = 10 : U32, enum "flow-action";
    /// Flags (NAT rewrites on FLOW_NEW; all flags in replies).
    FLAGS = 11 : U32, enum "flow-flags";
    /// Drop reason of a Drop flow (a drop-reason value; Flow Action Drop when absent).
    DROP_REASON = 12 : U32, enum "drop-reason";
    /// Index of the reverse entry (u32 max: none).
    RINDEX = 13 : U32;
    /// TCP state of this direction (read only).
    TCP_FLAGS = 14 : U32, enum "flow-tcp";
    /// Padding for 64-bit counters.
    PAD = 15 : Pad;
    /// Packets that matched the entry (read only).
    PACKETS = 16 : U64;
    /// Bytes that matched the entry (read only).
    BYTES = 17 : U64;
    /// Seconds since the entry last matched a packet, or since it was made (read only).
    AGE = 18 : U32;
    /// Vif the packet that made a Hold entry came in on (read only).
    VIF = 19 : U32;
    /// Packets queued on a Hold entry (read only).
    QUEUED = 20 : U32;
});

attr_set!(flow_table_attr, "flow-table", {
    /// Padding for 64-bit counters.
    PAD = 1 : Pad;
    /// Main-area entries (vr_flow_entries).
    ENTRIES = 2 : U32;
    /// Overflow-area entries (vr_oflow_entries).
    OFLOW_ENTRIES = 3 : U32;
    /// Bytes per entry.
    ENTRY_SIZE = 4 : U32;
    /// Most Hold entries at a time (vr_flow_hold_limit).
    HOLD_LIMIT = 5 : U32;
    /// Entries in use (any action).
    USED = 6 : U32;
    /// Hold entries in use.
    HOLD = 7 : U32;
    /// Overflow entries in use.
    OFLOW_USED = 8 : U32;
    /// Entries made by the datapath on a miss (Hold).
    CREATED = 9 : U64;
    /// Entries made over netlink.
    ADDED = 10 : U64;
    /// Entries removed (netlink, flush, eviction).
    DELETED = 11 : U64;
    /// Verdicts and updates applied to existing entries.
    CHANGED = 12 : U64;
    /// Dead TCP entries reused before they were deleted.
    EVICTED = 13 : U64;
    /// Flow misses announced on the flows group.
    MISSES = 14 : U64;
    /// Created entries per CPU: one u64 (host order) per possible CPU.
    CREATED_PER_CPU = 15 : Binary { max: 4096 };
});

pub static ATTR_SETS: &[&AttrSet] = &[
    &vif_attr::SET,
    &vif_stats_attr::SET,
    &nh_attr::SET,
    &rt_attr::SET,
    &mpls_attr::SET,
    &vxlan_attr::SET,
    &drop_stats_attr::SET,
    &vrf_stats_attr::SET,
    &info_attr::SET,
    &flow_attr::SET,
    &flow_table_attr::SET,
];
pub static ENUMS: &[&EnumDef] = &[
    &vif_type::DEF,
    &vif_flag::DEF,
    &addr_family::DEF,
    &nh_type::DEF,
    &nh_flag::DEF,
    &rt_flag::DEF,
    &drop_reason::DEF,
    &vrf_stat::DEF,
    &flow_action::DEF,
    &flow_flag::DEF,
    &flow_tcp::DEF,
];

// ---------------------------------------------------------------------------------------
// Commands. Numbers are stable: new commands are appended.

pub mod cmd {
    pub const VIF_NEW: u8 = 1;
    pub const VIF_DEL: u8 = 2;
    pub const VIF_GET: u8 = 3;
    pub const NH_NEW: u8 = 4;
    pub const NH_DEL: u8 = 5;
    pub const NH_GET: u8 = 6;
    pub const RT_NEW: u8 = 7;
    pub const RT_DEL: u8 = 8;
    pub const RT_GET: u8 = 9;
    pub const DROPSTATS_GET: u8 = 10;
    pub const DROPSTATS_CLEAR: u8 = 11;
    pub const VRF_STATS_GET: u8 = 12;
    pub const INFO_GET: u8 = 13;
    pub const FLOW_NEW: u8 = 14;
    pub const FLOW_DEL: u8 = 15;
    pub const FLOW_GET: u8 = 16;
    pub const FLOW_FLUSH: u8 = 17;
    pub const FLOW_TABLE_GET: u8 = 18;
    /// Kernel to agent only, on the flows group: a Hold entry was made.
    pub const FLOW_MISS: u8 = 19;
    pub const MPLS_NEW: u8 = 20;
    pub const MPLS_DEL: u8 = 21;
    pub const MPLS_GET: u8 = 22;
    pub const VXLAN_NEW: u8 = 23;
    pub const VXLAN_DEL: u8 = 24;
    pub const VXLAN_GET: u8 = 25;
}

pub static COMMANDS: &[CmdDef] = &[
    CmdDef { name: "VIF_NEW", id: cmd::VIF_NEW, set: "vif", admin: true, dump: false, event: None,
             doc: "Attach a net_device as a vif (or create the vhost device for a host vif)." },
    CmdDef { name: "VIF_DEL", id: cmd::VIF_DEL, set: "vif", admin: true, dump: false, event: None,
             doc: "Detach a vif, by index or by name." },
    CmdDef { name: "VIF_GET", id: cmd::VIF_GET, set: "vif", admin: false, dump: true, event: None,
             doc: "Get one vif by index or name, or dump them all." },
    CmdDef { name: "NH_NEW", id: cmd::NH_NEW, set: "nh", admin: true, dump: false, event: None,
             doc: "Create a nexthop, or replace the one with that id." },
    CmdDef { name: "NH_DEL", id: cmd::NH_DEL, set: "nh", admin: true, dump: false, event: None,
             doc: "Delete a nexthop that nothing references (not the discard nexthop 0)." },
    CmdDef { name: "NH_GET", id: cmd::NH_GET, set: "nh", admin: false, dump: true, event: None,
             doc: "Get one nexthop by id, or dump them all." },
    CmdDef { name: "RT_NEW", id: cmd::RT_NEW, set: "rt", admin: true, dump: false, event: None,
             doc: "Add a route, or replace the route with the same vrf, prefix and length. Announced on the config group." },
    CmdDef { name: "RT_DEL", id: cmd::RT_DEL, set: "rt", admin: true, dump: false, event: None,
             doc: "Delete a route; its addresses fall back to the covering route. Announced on the config group." },
    CmdDef { name: "RT_GET", id: cmd::RT_GET, set: "rt", admin: false, dump: true, event: None,
             doc: "Longest-prefix match of prefix/prefix-len in a VRF; dump: every route of one VRF and family." },
    CmdDef { name: "DROPSTATS_GET", id: cmd::DROPSTATS_GET, set: "drop-stats", admin: false, dump: false, event: None,
             doc: "Drop counters per reason, summed over CPUs or of one CPU." },
    CmdDef { name: "DROPSTATS_CLEAR", id: cmd::DROPSTATS_CLEAR, set: "drop-stats", admin: true, dump: false, event: None,
             doc: "Reset the drop counters of every CPU." },
    CmdDef { name: "VRF_STATS_GET", id: cmd::VRF_STATS_GET, set: "vrf-stats", admin: false, dump: true, event: None,
             doc: "Counters of one VRF; dump: every VRF with routes or non-zero counters." },
    CmdDef { name: "INFO_GET", id: cmd::INFO_GET, set: "info", admin: false, dump: false, event: None,
             doc: "Module version, table limits and usage." },
    CmdDef { name: "FLOW_NEW", id: cmd::FLOW_NEW, set: "flow", admin: true, dump: false, event: None,
             doc: "Without index: add an entry for the key. With index and gen: set the verdict of that entry (a Hold entry releases its queued packets)." },
    CmdDef { name: "FLOW_DEL", id: cmd::FLOW_DEL, set: "flow", admin: true, dump: false, event: None,
             doc: "Delete the entry at index (gen, when given, must match); its queued packets are dropped." },
    CmdDef { name: "FLOW_GET", id: cmd::FLOW_GET, set: "flow", admin: false, dump: true, event: None,
             doc: "Get the entry at index, or the one with the given key; dump: every entry in use." },
    CmdDef { name: "FLOW_FLUSH", id: cmd::FLOW_FLUSH, set: "flow", admin: true, dump: false, event: None,
             doc: "Delete every entry." },
    CmdDef { name: "FLOW_TABLE_GET", id: cmd::FLOW_TABLE_GET, set: "flow-table", admin: false, dump: false, event: None,
             doc: "Flow table sizes, usage and counters." },
    CmdDef { name: "FLOW_MISS", id: cmd::FLOW_MISS, set: "flow", admin: false, dump: false, event: Some(MCGRP_FLOWS),
             doc: "Notification on the flows group: a packet missed the table and a Hold entry (index, gen, key, vif) waits for a verdict." },
    CmdDef { name: "MPLS_NEW", id: cmd::MPLS_NEW, set: "mpls", admin: true, dump: false, event: None,
             doc: "Map an incoming MPLS label to a nexthop (replacing its previous nexthop)." },
    CmdDef { name: "MPLS_DEL", id: cmd::MPLS_DEL, set: "mpls", admin: true, dump: false, event: None,
             doc: "Remove an MPLS label." },
    CmdDef { name: "MPLS_GET", id: cmd::MPLS_GET, set: "mpls", admin: false, dump: true, event: None,
             doc: "Get one MPLS label, or dump every label in use." },
    CmdDef { name: "VXLAN_NEW", id: cmd::VXLAN_NEW, set: "vxlan", admin: true, dump: false, event: None,
             doc: "Map a VXLAN VNI to a nexthop (replacing its previous nexthop)." },
    CmdDef { name: "VXLAN_DEL", id: cmd::VXLAN_DEL, set: "vxlan", admin: true, dump: false, event: None,
             doc: "Remove a VXLAN VNI." },
    CmdDef { name: "VXLAN_GET", id: cmd::VXLAN_GET, set: "vxlan", admin: false, dump: true, event: None,
             doc: "Get one VXLAN VNI, or dump every VNI in use." },
];

/// Module version reported by INFO_GET (kept equal to the workspace version by a test).
pub const RELEASE: &str = "0.1.0";

/// A load-time module parameter `vr_<name>`: its default, accepted range and description.
/// The glue declares them from the generated `VR_PARAMS`; the module checks the ranges.
#[derive(Clone, Copy, Debug)]
pub struct ParamDef {
    pub name: &'static str,
    pub default: u32,
    pub min: u32,
    pub max: u32,
    pub doc: &'static str,
}

/// Indexes into `PARAMS` (the kernel reads parameter `i` as `vrg_param(i)`).
pub mod param {
    pub const INTERFACES: usize = 0;
    pub const VRFS: usize = 1;
    pub const NEXTHOPS: usize = 2;
    pub const ROUTES: usize = 3;
    pub const RT_BUCKETS: usize = 4;
    pub const FLOW_ENTRIES: usize = 5;
    pub const OFLOW_ENTRIES: usize = 6;
    pub const FLOW_HOLD_LIMIT: usize = 7;
    pub const MPLS_LABELS: usize = 8;
}

pub static PARAMS: &[ParamDef] = &[
    ParamDef {
        name: "interfaces",
        default: DEFAULT_INTERFACES,
        min: 16,
        max: 65536,
        doc: "Size of the vif table",
    },
    ParamDef {
        name: "vrfs",
        default: DEFAULT_VRFS,
        min: 1,
        max: 65535,
        doc: "Number of VRFs",
    },
    ParamDef {
        name: "nexthops",
        default: DEFAULT_NEXTHOPS,
        min: 16,
        max: 1 << 20,
        doc: "Size of the nexthop table",
    },
    ParamDef {
        name: "routes",
        default: DEFAULT_ROUTES,
        min: 16,
        max: 1 << 22,
        doc: "Route entries, IPv4 and IPv6 together",
    },
    ParamDef {
        name: "rt_buckets",
        default: DEFAULT_RT_BUCKETS,
        min: 16,
        max: 1 << 20,
        doc: "Route-table buckets of 256 slots, 1 KiB each",
    },
    ParamDef {
        name: "flow_entries",
        default: DEFAULT_FLOW_ENTRIES,
        min: 1024,
        max: 1 << 24,
        doc: "Flow table main area, a multiple of 4",
    },
    ParamDef {
        name: "oflow_entries",
        default: 0,
        min: 0,
        max: 1 << 22,
        doc: "Flow table overflow area (0: about a fifth of vr_flow_entries, as TF)",
    },
    ParamDef {
        name: "flow_hold_limit",
        default: DEFAULT_FLOW_HOLD_LIMIT,
        min: 1,
        max: 1 << 20,
        doc: "Most flows waiting for the agent's verdict at a time",
    },
    ParamDef {
        name: "mpls_labels",
        default: DEFAULT_MPLS_LABELS,
        min: 16,
        max: MPLS_LABEL_LIMIT,
        doc: "Size of the MPLS input label table",
    },
];

/// Default module parameters (the module's `vr_*` parameters override them at load time).
pub const DEFAULT_INTERFACES: u32 = 4352;
pub const DEFAULT_VRFS: u32 = 4096;
pub const DEFAULT_NEXTHOPS: u32 = 65536;
pub const DEFAULT_ROUTES: u32 = 262144;
pub const DEFAULT_RT_BUCKETS: u32 = 16384;
/// Flow table main area (TF: 512K), overflow area (TF: ~20% of it) and Hold limit.
pub const DEFAULT_FLOW_ENTRIES: u32 = 524288;
pub const DEFAULT_FLOW_HOLD_LIMIT: u32 = 8192;
/// MPLS input label table (TF's VR_DEF_LABELS).
pub const DEFAULT_MPLS_LABELS: u32 = 5120;
/// Labels are 20 bits: no table is larger.
pub const MPLS_LABEL_LIMIT: u32 = 1 << 20;
/// VNIs are 24 bits: every VNI is below this.
pub const VXLAN_VNI_LIMIT: u32 = 1 << 24;
/// Packets a Hold entry queues until its verdict (TF: 3).
pub const FLOW_QUEUE_MAX: usize = 3;
/// RINDEX value meaning "no reverse entry".
pub const FLOW_INDEX_NONE: u32 = u32::MAX;

/// The vRouter's MAC: pods use it as their gateway's MAC.
pub const VROUTER_MAC: [u8; 6] = [0x00, 0x00, 0x5e, 0x00, 0x01, 0x00];
/// Longest Ethernet header an Encap nexthop may push (with one 802.1Q tag).
pub const ENCAP_MAX: usize = 18;
/// Most members a composite nexthop may have.
pub const COMPOSITE_MAX: usize = 64;
/// Multicast VRF reported when none is set.
pub const VRF_UNSET: u32 = 65535;
