//! Pod egress: a pod's packet to an address outside the pod networks (the API server
//! behind the `kubernetes` Service, another node, anything beyond the cluster) leaves
//! through the host (the pod VRFs' default route is the Receive nexthop), which
//! masquerades it behind the node's own address, so the answer finds its way back. The
//! host's connection tracking undoes the translation for the answer, which then comes
//! back through the vhost device, where the datapath finds the pod's flow entries (a
//! Service's reverse translation included).
//!
//! Pod to pod and pod to node traffic is never translated (Kubernetes' network model):
//! destinations in any node's pod CIDR, and the nodes' own addresses, are left alone. The rules live in one nftables table of the
//! agent's own, `inet vrouter`, replaced as a whole in one transaction whenever what it
//! should hold changes (nft(8) applies a ruleset file atomically).

use ipnet::IpNet;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Mutex;

/// What the masquerade table should hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Masquerade {
    /// This node's pod pools: the sources that are translated.
    pub sources: Vec<IpNet>,
    /// Destinations never translated: every node's pod CIDRs and every node's own
    /// addresses (this node's included).
    pub untranslated: Vec<IpNet>,
}

/// The table's name in the `inet` family.
pub const TABLE: &str = "vrouter";

/// The ruleset file that replaces the table (creating it first, so the delete finds one).
pub fn ruleset(m: &Masquerade) -> String {
    let mut rules = String::new();
    for (family, v4) in [("ip", true), ("ip6", false)] {
        let of = |nets: &[IpNet]| -> Vec<String> {
            nets.iter()
                .filter(|n| matches!(n, IpNet::V4(_)) == v4)
                .map(|n| n.trunc().to_string())
                .collect()
        };
        let (sources, pods) = (of(&m.sources), of(&m.untranslated));
        if sources.is_empty() {
            continue;
        }
        let mut line = format!("    {family} saddr {{ {} }}", sources.join(", "));
        if !pods.is_empty() {
            line += &format!(" {family} daddr != {{ {} }}", pods.join(", "));
        }
        rules += &line;
        rules += " masquerade\n";
    }
    format!(
        "table inet {TABLE}\ndelete table inet {TABLE}\ntable inet {TABLE} {{\n  chain pod_egress {{\n    type nat hook postrouting priority srcnat; policy accept;\n{rules}  }}\n}}\n"
    )
}

/// The ruleset last applied: nft runs only when it changes.
static APPLIED: Mutex<Option<String>> = Mutex::new(None);

/// Makes the table hold `m`.
pub fn ensure(m: &Masquerade) -> Result<(), String> {
    let want = ruleset(m);
    let mut applied = APPLIED.lock().map_err(|_| "masquerade state poisoned")?;
    if applied.as_deref() == Some(want.as_str()) {
        return Ok(());
    }
    nft(&want)?;
    *applied = Some(want);
    Ok(())
}

fn nft(ruleset: &str) -> Result<(), String> {
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("nft: {e}"))?;
    child
        .stdin
        .take()
        .ok_or("nft: no stdin")?
        .write_all(ruleset.as_bytes())
        .map_err(|e| format!("nft: {e}"))?;
    let out = child.wait_with_output().map_err(|e| format!("nft: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "nft: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(v: &[&str]) -> Vec<IpNet> {
        v.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn only_this_nodes_pods_to_outside_the_pod_networks_are_translated() {
        let m = Masquerade {
            sources: nets(&["10.32.0.0/24", "fd00:32::/120"]),
            untranslated: nets(&["10.32.0.0/24", "10.32.1.0/24", "fd00:32::/120"]),
        };
        let r = ruleset(&m);
        assert!(r.starts_with("table inet vrouter\ndelete table inet vrouter\n"));
        assert!(r.contains("type nat hook postrouting priority srcnat;"));
        assert!(r.contains(
            "ip saddr { 10.32.0.0/24 } ip daddr != { 10.32.0.0/24, 10.32.1.0/24 } masquerade\n"
        ));
        assert!(
            r.contains("ip6 saddr { fd00:32::/120 } ip6 daddr != { fd00:32::/120 } masquerade\n")
        );
    }

    #[test]
    fn a_family_without_a_pool_gets_no_rule_and_prefixes_are_normalised() {
        let m = Masquerade {
            sources: nets(&["10.32.0.7/24"]),
            untranslated: nets(&["10.32.0.0/24"]),
        };
        let r = ruleset(&m);
        assert!(r.contains("ip saddr { 10.32.0.0/24 }"));
        assert!(!r.contains("ip6"));
    }
}
