//! `vrctl vrouter --info` (TF `vrouter --info`): the module's version, limits and usage.

use super::json;
use crate::Failure;
use std::fmt::Write;
use vrouter_client::{Client, Info};

#[derive(clap::Args)]
pub(crate) struct VrouterArgs {
    /// Module version, limits and usage
    #[arg(long, required = true)]
    info: bool,
    /// JSON output
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(a: VrouterArgs) -> Result<String, Failure> {
    let info = Client::connect()?.info()?;
    Ok(if a.json {
        json(&info)
    } else {
        vrouter_info(&info)
    })
}

/// `vrouter --info`: TF's layout (`print_vrouter_parameters`): 4-space indent, labels
/// padded to 37 columns.
fn vrouter_info(i: &Info) -> String {
    let mut out = format!("vRouter module version       {}\n\n", i.version);
    let mut section = |title: &str, rows: &[(&str, u32)]| {
        let _ = writeln!(out, "{title}");
        for (label, v) in rows {
            let _ = writeln!(out, "    {label:<37}{v}");
        }
        out.push('\n');
    };
    section(
        "Startup parameters",
        &[
            ("Interfaces limit", i.interfaces),
            ("VRF tables limit", i.vrfs),
            ("NextHops limit", i.nexthops),
            ("MPLS Labels limit", i.mpls_labels),
            ("Route entries limit", i.routes),
            ("Route table buckets limit", i.rt_buckets),
        ],
    );
    section(
        "Runtime parameters",
        &[
            ("Possible CPUs", i.cpus),
            ("Used Interfaces", i.vifs_used),
            ("Used NextHops", i.nexthops_used),
            ("Used IPv4 routes", i.routes_v4),
            ("Used IPv6 routes", i.routes_v6),
            ("Used route table buckets", i.rt_buckets_used),
            ("Used MPLS labels", i.mpls_labels_used),
            ("Used VXLAN VNIs", i.vxlan_vnis_used),
            ("Route table inconsistencies", i.rt_inconsistent),
        ],
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::golden;

    #[test]
    fn vrouter_info_matches_golden() {
        let i = Info {
            version: "0.1.0".into(),
            interfaces: 4352,
            vrfs: 4096,
            nexthops: 65536,
            routes: 262144,
            rt_buckets: 16384,
            vifs_used: 5,
            nexthops_used: 7,
            routes_v4: 20000,
            routes_v6: 1,
            rt_buckets_used: 93,
            cpus: 4,
            mpls_labels: 5120,
            mpls_labels_used: 3,
            vxlan_vnis_used: 2,
            rt_inconsistent: 0,
        };
        golden("vrouter_info.txt", &vrouter_info(&i));
    }
}
