//! Counter layouts shared by `dropstats` and `vrfstats`: the core line and the JSON
//! objects keyed by counter label.

use serde::ser::{Serialize, SerializeMap, Serializer};
use std::fmt::Write;

/// JSON key of a counter label: lower case, runs of other characters as one `_`
/// ("Flow Unusable (Eviction)" -> "flow_unusable_eviction").
pub(crate) fn counter_key(label: &str) -> String {
    let mut k = String::with_capacity(label.len());
    for c in label.chars() {
        if c.is_ascii_alphanumeric() {
            k.push(c.to_ascii_lowercase());
        } else if !k.is_empty() && !k.ends_with('_') {
            k.push('_');
        }
    }
    while k.ends_with('_') {
        k.pop();
    }
    k
}

/// An ordered JSON object of counters (optionally led by `"vrf"`).
pub(crate) struct CounterMap {
    pub(crate) vrf: Option<u32>,
    pub(crate) entries: Vec<(String, u64)>,
}

impl Serialize for CounterMap {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.entries.len() + usize::from(self.vrf.is_some())))?;
        if let Some(v) = self.vrf {
            m.serialize_entry("vrf", &v)?;
        }
        for (k, v) in &self.entries {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

pub(crate) fn core_line(out: &mut String, core: Option<u32>) {
    if let Some(c) = core {
        let _ = write!(out, "Statistics for core {c}\n\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vrouter_uapi::{drop_reason, vrf_stat};

    #[test]
    fn counter_keys() {
        assert_eq!(counter_key("TTL Exceeded"), "ttl_exceeded");
        assert_eq!(
            counter_key("Flow Unusable (Eviction)"),
            "flow_unusable_eviction"
        );
        assert_eq!(counter_key("Bmac/ISID Mismatch"), "bmac_isid_mismatch");
        assert_eq!(counter_key("Arp Virtual Proxys"), "arp_virtual_proxys");
        assert_eq!(counter_key("GROs"), "gros");
        // keys are unique within each object
        for def in [&drop_reason::DEF, &vrf_stat::DEF] {
            let mut k: Vec<String> = def.entries.iter().map(|e| counter_key(e.2)).collect();
            k.push("vrf".into());
            let n = k.len();
            k.sort();
            k.dedup();
            assert_eq!(k.len(), n, "{}", def.name);
        }
    }
}
