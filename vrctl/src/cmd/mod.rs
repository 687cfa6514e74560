//! One module per command (as TF's `vif.c`, `rt.c`, `nh.c`, ...): its arguments, requests,
//! TF-style layouts (plain structs in, so golden tests need no kernel) and tests.

pub(crate) mod dropstats;
pub(crate) mod flow;
pub(crate) mod mpls;
pub(crate) mod nh;
pub(crate) mod rt;
pub(crate) mod vif;
pub(crate) mod vrfstats;
pub(crate) mod vrouter;
pub(crate) mod vxlan;

mod counters;
mod decap;

use crate::{exit, Failure};
use vrouter_client::rt::parse_family;
use vrouter_client::vif::parse_mac;

/// A bad argument: exit 64 with one line.
pub(crate) fn usage(text: impl Into<String>) -> Failure {
    Failure {
        code: exit::USAGE,
        text: text.into(),
    }
}

/// `--json` output: pretty, with a final newline.
pub(crate) fn json<T: serde::Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string_pretty(v)
        .map(|s| s + "\n")
        .unwrap_or_default()
}

/// A decimal number argument (a label, VNI, nexthop id): one line when it is not one.
pub(crate) fn num_arg(what: &str, s: &str) -> Result<u32, Failure> {
    s.parse::<u32>()
        .map_err(|_| usage(format!("bad {what} {s:?} (a number from 0 to 4294967295)")))
}

pub(crate) fn mac_arg(m: Option<&str>) -> Result<Option<[u8; 6]>, Failure> {
    m.map(|m| parse_mac(m).ok_or_else(|| usage(format!("bad MAC address {m:?}"))))
        .transpose()
}

pub(crate) fn family_arg(f: Option<&str>) -> Result<Option<u32>, Failure> {
    f.map(|s| match parse_family(s) {
        Some(f) => Ok(f),
        None if matches!(s, "bridge" | "1") => Err(usage(
            "the bridge family is not supported (no bridge table)",
        )),
        None => Err(usage(format!("bad family {s:?} (inet or inet6)"))),
    })
    .transpose()
}

/// Compares with tests/golden/<name>; `VRCTL_BLESS=1 cargo test` rewrites the file.
#[cfg(test)]
pub(crate) fn golden(name: &str, got: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("VRCTL_BLESS").is_some() {
        std::fs::write(&path, got).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        got == want,
        "{name} differs from the golden file:\n--- got\n{got}\n--- want\n{want}"
    );
}

#[cfg(test)]
pub(crate) fn ip(s: &str) -> std::net::IpAddr {
    s.parse().unwrap()
}
