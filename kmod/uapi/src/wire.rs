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
    String { max: usize },
    /// Binary of exactly `len` bytes.
    Exact { len: usize },
    /// Binary of at most `max` bytes.
    Binary { max: usize },
    /// Nested attributes of another set (named by its `name`).
    Nest { set: &'static str },
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

/// Human names of the vif flags for the `Flags:` legend of `vif --list`.
pub const VIF_FLAG_NAMES: &[(u32, &str)] = &[
    (vif_flag::POLICY, "Policy"),
    (vif_flag::XCONNECT, "Cross Connect"),
    (vif_flag::SERVICE_IF, "Service Chain"),
    (vif_flag::MIRROR_RX, "Receive Mirror"),
    (vif_flag::MIRROR_TX, "Transmit Mirror"),
    (vif_flag::TX_CSUM_OFFLOAD, "Transmit Checksum Offload"),
    (vif_flag::L3_ENABLED, "Layer 3"),
    (vif_flag::L2_ENABLED, "Layer 2"),
    (vif_flag::DHCP_ENABLED, "DHCP"),
    (vif_flag::VHOST_PHYS, "Vhost Physical"),
    (vif_flag::PROMISCUOUS, "Promiscuous"),
    (vif_flag::NATIVE_VLAN_TAG, "Native Vlan Tagged"),
    (vif_flag::NO_ARP_PROXY, "No MAC Proxy"),
    (vif_flag::PMD, "DPDK PMD Interface"),
    (vif_flag::FILTERING_OFFLOAD, "Receive Filtering Offload"),
    (vif_flag::MONITORED, "Interface is Monitored"),
    (vif_flag::UNKNOWN_UC_FLOOD, "Unknown Unicast Flood"),
    (vif_flag::VLAN_OFFLOAD, "Vlan Offload"),
    (vif_flag::DROP_NEW_FLOWS, "Drop New Flows"),
    (vif_flag::MAC_LEARN, "MAC Learning Enabled"),
    (vif_flag::MAC_PROXY, "MAC Proxy"),
    (vif_flag::ETREE_ROOT, "Etree Root"),
];

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

pub static ATTR_SETS: &[&AttrSet] = &[&vif_attr::SET, &vif_stats_attr::SET];
pub static ENUMS: &[&EnumDef] = &[&vif_type::DEF, &vif_flag::DEF];

// ---------------------------------------------------------------------------------------
// Commands. Numbers are stable: new commands are appended.

pub mod cmd {
    pub const VIF_NEW: u8 = 1;
    pub const VIF_DEL: u8 = 2;
    pub const VIF_GET: u8 = 3;
}

pub static COMMANDS: &[CmdDef] = &[
    CmdDef { name: "VIF_NEW", id: cmd::VIF_NEW, set: "vif", admin: true, dump: false,
             doc: "Attach a net_device as a vif (or create the vhost device for a host vif)." },
    CmdDef { name: "VIF_DEL", id: cmd::VIF_DEL, set: "vif", admin: true, dump: false,
             doc: "Detach a vif, by index or by name." },
    CmdDef { name: "VIF_GET", id: cmd::VIF_GET, set: "vif", admin: false, dump: true,
             doc: "Get one vif by index or name, or dump them all." },
];

/// Default module parameters (the module's `vr_*` parameters override them at load time).
pub const DEFAULT_INTERFACES: u32 = 4352;
/// Multicast VRF reported when none is set.
pub const VRF_UNSET: u32 = 65535;
