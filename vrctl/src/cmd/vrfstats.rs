//! `vrctl vrfstats` (TF `vrfstats`): the per-VRF packet counters of one VRF or of every
//! VRF in use.

use super::counters::{core_line, counter_key, CounterMap};
use super::json;
use crate::Failure;
use clap::ArgGroup;
use std::fmt::Write;
use vrouter_client::{Client, VrfStats};
use vrouter_uapi::vrf_stat;

/// Line grouping of `vrfstats` output: indexes into `vrf_stat` values.
const VRF_STAT_LINES: &[&[u32]] = &[
    &[0, 1, 2, 3, 4, 5],
    &[6, 7, 8, 9, 10],
    &[11, 12, 13, 14],
    &[15, 16],
    &[17, 18],
    &[19, 20, 21, 22, 23, 24, 25],
];

#[derive(clap::Args)]
#[command(group(ArgGroup::new("op").required(true).args(["dump", "get"])))]
pub(crate) struct VrfStatsArgs {
    /// Every VRF with routes or counters
    #[arg(long)]
    dump: bool,
    /// One VRF
    #[arg(long, value_name = "VRF")]
    get: Option<u32>,
    /// One CPU's counters (0-based)
    #[arg(long, value_name = "N")]
    core: Option<u32>,
    /// JSON output
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(a: VrfStatsArgs) -> Result<String, Failure> {
    let mut c = Client::connect()?;
    if let Some(vrf) = a.get {
        let s = c.vrf_stats(vrf, a.core)?;
        return Ok(if a.json {
            json(&vrfstats_json(&s))
        } else {
            vrfstats(&[s], a.core)
        });
    }
    let all = c.vrf_stats_dump(a.core)?;
    Ok(if a.json {
        json(&all.iter().map(vrfstats_json).collect::<Vec<_>>())
    } else {
        vrfstats(&all, a.core)
    })
}

/// `vrfstats`: per VRF `Vrf: N`, the counter lines of VRF_STAT_LINES, a blank line.
fn vrfstats(stats: &[VrfStats], core: Option<u32>) -> String {
    let mut out = String::new();
    core_line(&mut out, core);
    for s in stats {
        let _ = writeln!(out, "Vrf: {}", s.vrf);
        for line in VRF_STAT_LINES {
            for (j, i) in line.iter().enumerate() {
                let label = vrf_stat::DEF.by_value(*i).map_or("?", |e| e.2);
                let _ = write!(
                    out,
                    "{}{label} {}",
                    if j > 0 { ", " } else { "" },
                    s.get(*i)
                );
            }
            out.push('\n');
        }
        out.push('\n');
    }
    out
}

/// `vrfstats --json`: `{"vrf": N, "discards": ..., ...}`.
fn vrfstats_json(s: &VrfStats) -> CounterMap {
    CounterMap {
        vrf: Some(s.vrf),
        entries: vrf_stat::DEF
            .entries
            .iter()
            .map(|(_, i, l)| (counter_key(l), s.get(*i)))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::golden;

    #[test]
    fn every_vrf_stat_is_printed_once() {
        let mut grouped: Vec<u32> = VRF_STAT_LINES
            .iter()
            .flat_map(|l| l.iter().copied())
            .collect();
        grouped.sort();
        assert_eq!(
            grouped,
            (0..vrouter_uapi::VRF_STATS as u32).collect::<Vec<_>>()
        );
    }

    fn vrf_stats() -> Vec<VrfStats> {
        vec![
            VrfStats {
                vrf: 0,
                counters: vec![0; vrouter_uapi::VRF_STATS],
            },
            VrfStats {
                vrf: 3,
                counters: (0..vrouter_uapi::VRF_STATS as u64)
                    .map(|i| i * 1000 + i)
                    .collect(),
            },
            VrfStats {
                vrf: 4095,
                counters: vec![7; 3],
            }, // a shorter reply: the rest print 0
        ]
    }

    #[test]
    fn vrfstats_matches_golden() {
        golden("vrfstats.txt", &vrfstats(&vrf_stats(), None));
        let one = vrfstats(&vrf_stats()[1..2], Some(0));
        assert!(
            one.starts_with("Statistics for core 0\n\nVrf: 3\nDiscards 0, Resolves 1001, "),
            "{one}"
        );
        let j: Vec<CounterMap> = vrf_stats().iter().map(vrfstats_json).collect();
        golden(
            "vrfstats.json",
            &(serde_json::to_string_pretty(&j[1]).unwrap() + "\n"),
        );
    }
}
