//! `vrctl vxlan` (TF `vxlan`): the VXLAN table (VNI -> nexthop), used to decapsulate
//! VXLAN.

use super::decap::{self, Ask};
use crate::Failure;
use clap::ArgGroup;
use std::fmt::Write;
use vrouter_client::VxlanVni;

#[derive(clap::Args)]
#[command(group(ArgGroup::new("op").required(true).args(["dump", "get", "create", "delete"])))]
pub(crate) struct VxlanArgs {
    /// Every VNI in use
    #[arg(long)]
    dump: bool,
    /// One VNI
    #[arg(long, value_name = "VNI")]
    get: Option<String>,
    /// Map VNI to the nexthop of --nh (replacing its nexthop if it has one)
    #[arg(long, value_name = "VNI")]
    create: Option<String>,
    /// Remove VNI
    #[arg(long, value_name = "VNI")]
    delete: Option<String>,
    /// The nexthop of --create
    #[arg(long, value_name = "NH")]
    nh: Option<String>,
    /// JSON output
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(a: VxlanArgs) -> Result<String, Failure> {
    let ask = Ask {
        what: "VNI",
        dump: a.dump,
        get: a.get.as_deref(),
        create: a.create.as_deref(),
        delete: a.delete.as_deref(),
        nh: a.nh.as_deref(),
    };
    decap::run(ask.op()?, a.json, vxlan_table)
}

/// TF's `vxlan --dump` / `--get`: a header, then `%7d    %d` per VNI.
fn vxlan_table(vnis: &[VxlanVni]) -> String {
    let mut out = String::from("VXLAN Table\n\n VNID    NextHop\n----------------\n");
    for v in vnis {
        let _ = writeln!(out, "{:>7}    {}", v.vni, v.nh);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::{golden, json};

    fn vnis() -> Vec<VxlanVni> {
        [(0, 0), (4, 14), (38, 547), (4096, 16), (16777215, 524287)]
            .into_iter()
            .map(|(vni, nh)| VxlanVni { vni, nh, rid: 0 })
            .collect()
    }

    #[test]
    fn vxlan_dump_matches_golden() {
        golden("vxlan_dump.txt", &vxlan_table(&vnis()));
        golden("vxlan_dump.json", &json(&vnis()));
    }

    #[test]
    fn vxlan_rows_match_tf() {
        // the layout of TF's `vxlan --get 38` in public captures
        assert_eq!(
            vxlan_table(&vnis()[2..3]),
            "VXLAN Table\n\n VNID    NextHop\n----------------\n     38    547\n"
        );
        // a VNI wider than the column pushes the row, as printf does
        assert!(vxlan_table(&vnis()).ends_with("\n16777215    524287\n"));
    }
}
