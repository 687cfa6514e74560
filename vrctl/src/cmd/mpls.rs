//! `vrctl mpls` (TF `mpls`): the MPLS input label table (label -> nexthop), used to
//! decapsulate MPLSoUDP and MPLSoGRE.

use super::decap::{self, Ask};
use crate::Failure;
use clap::ArgGroup;
use std::fmt::Write;
use vrouter_client::MplsLabel;

#[derive(clap::Args)]
#[command(group(ArgGroup::new("op").required(true).args(["dump", "get", "create", "delete"])))]
pub(crate) struct MplsArgs {
    /// Every label in use
    #[arg(long)]
    dump: bool,
    /// One label
    #[arg(long, value_name = "LABEL")]
    get: Option<String>,
    /// Map LABEL to the nexthop of --nh (replacing its nexthop if it has one)
    #[arg(long, value_name = "LABEL")]
    create: Option<String>,
    /// Remove LABEL
    #[arg(long, value_name = "LABEL")]
    delete: Option<String>,
    /// The nexthop of --create
    #[arg(long, value_name = "NH")]
    nh: Option<String>,
    /// JSON output
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(a: MplsArgs) -> Result<String, Failure> {
    let ask = Ask {
        what: "label",
        dump: a.dump,
        get: a.get.as_deref(),
        create: a.create.as_deref(),
        delete: a.delete.as_deref(),
        nh: a.nh.as_deref(),
    };
    decap::run(ask.op()?, a.json, mpls_table)
}

/// TF's `mpls --dump` / `--get`: a header, then `%8d    %6d` per label.
fn mpls_table(labels: &[MplsLabel]) -> String {
    let mut out =
        String::from("MPLS Input Label Map\n\n   Label    NextHop\n-------------------\n");
    for l in labels {
        let _ = writeln!(out, "{:>8}    {:>6}", l.label, l.nh);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::{golden, json};

    fn labels() -> Vec<MplsLabel> {
        [(0, 0), (16, 9), (42, 44), (5119, 524287), (1048575, 1)]
            .into_iter()
            .map(|(label, nh)| MplsLabel { label, nh, rid: 0 })
            .collect()
    }

    #[test]
    fn mpls_dump_matches_golden() {
        golden("mpls_dump.txt", &mpls_table(&labels()));
        golden("mpls_dump.json", &json(&labels()));
    }

    #[test]
    fn mpls_rows_match_tf() {
        let out = mpls_table(&labels()[2..3]);
        // TF's own sample (tests/test_fabric_to_vm_intra_vn.py)
        assert_eq!(
            out,
            "MPLS Input Label Map\n\n   Label    NextHop\n-------------------\n      42        44\n"
        );
        assert_eq!(
            mpls_table(&[]),
            "MPLS Input Label Map\n\n   Label    NextHop\n-------------------\n"
        );
    }
}
