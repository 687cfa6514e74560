//! `vrctl mpls` (TF `mpls`): the MPLS input label table (label -> nexthop), used to
//! decapsulate MPLSoUDP and MPLSoGRE.

use super::{json, num_arg, usage};
use crate::Failure;
use clap::ArgGroup;
use std::fmt::Write;
use vrouter_client::{Client, MplsLabel};

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
    // everything is checked before the kernel is asked
    let get = a.get.as_deref().map(|s| num_arg("label", s)).transpose()?;
    let delete = a
        .delete
        .as_deref()
        .map(|s| num_arg("label", s))
        .transpose()?;
    let create = a
        .create
        .as_deref()
        .map(|s| num_arg("label", s))
        .transpose()?;
    let nh = a.nh.as_deref().map(|s| num_arg("nexthop", s)).transpose()?;
    match (create, nh) {
        (None, Some(_)) => return Err(usage("--nh goes with --create")),
        (Some(_), None) => return Err(usage("--create needs --nh")),
        _ => {}
    }
    let mut c = Client::connect()?;
    if a.dump {
        let v = c.mpls_dump()?;
        return Ok(if a.json { json(&v) } else { mpls_table(&v) });
    }
    if let Some(label) = get {
        let l = c.mpls_get(label)?;
        return Ok(if a.json { json(&l) } else { mpls_table(&[l]) });
    }
    if let Some(label) = delete {
        c.mpls_del(label)?;
        return Ok(String::new());
    }
    match (create, nh) {
        (Some(label), Some(nh)) => {
            let l = c.mpls_add(label, nh)?;
            Ok(if a.json { json(&l) } else { String::new() })
        }
        _ => Err(usage("one of --dump, --get, --create, --delete")),
    }
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
    use crate::cmd::golden;

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
