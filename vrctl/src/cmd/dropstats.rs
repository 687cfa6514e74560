//! `vrctl dropstats` (TF `dropstats`): the drop counters, summed or of one CPU, and
//! `--clear`.

use super::counters::{core_line, counter_key, CounterMap};
use super::json;
use crate::Failure;
use std::fmt::Write;
use vrouter_client::Client;
use vrouter_uapi::drop_reason;

#[derive(clap::Args)]
pub(crate) struct DropArgs {
    /// One CPU's counters (0-based)
    #[arg(long, short = 'c', value_name = "N")]
    core: Option<u32>,
    /// Reset the counters of every CPU
    #[arg(long, conflicts_with_all = ["core", "json"])]
    clear: bool,
    /// JSON output (every counter)
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(a: DropArgs) -> Result<String, Failure> {
    let mut c = Client::connect()?;
    if a.clear {
        c.drop_stats_clear()?;
        return Ok(String::new());
    }
    let counters = c.drop_stats(a.core)?;
    Ok(if a.json {
        json(&dropstats_json(&counters))
    } else {
        dropstats(&counters, a.core)
    })
}

fn at(counters: &[u64], i: u32) -> u64 {
    counters.get(i as usize).copied().unwrap_or(0)
}

/// `dropstats`: the non-zero counters, `%-28s  %lu`, in drop-reason order.
fn dropstats(counters: &[u64], core: Option<u32>) -> String {
    let mut out = String::new();
    core_line(&mut out, core);
    for (_, i, label) in drop_reason::DEF.entries {
        let v = at(counters, *i);
        if v != 0 {
            let _ = writeln!(out, "{label:<28}  {v}");
        }
    }
    out
}

/// `dropstats --json`: every counter by key.
fn dropstats_json(counters: &[u64]) -> CounterMap {
    CounterMap {
        vrf: None,
        entries: drop_reason::DEF
            .entries
            .iter()
            .map(|(_, i, l)| (counter_key(l), at(counters, *i)))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::golden;

    fn drop_counters() -> Vec<u64> {
        let mut c = vec![0u64; vrouter_uapi::DROP_REASONS];
        c[drop_reason::INVALID_IF as usize] = 3;
        c[drop_reason::DISCARD as usize] = 1_234_567_890_123;
        c[drop_reason::TTL_EXCEEDED as usize] = 2;
        c[drop_reason::FLOW_EVICT as usize] = 9;
        c[drop_reason::INVALID_UNDERLAY_ECMP as usize] = 1;
        c
    }

    #[test]
    fn dropstats_matches_golden() {
        golden("dropstats.txt", &dropstats(&drop_counters(), None));
        golden("dropstats_core.txt", &dropstats(&drop_counters(), Some(1)));
        golden(
            "dropstats.json",
            &(serde_json::to_string_pretty(&dropstats_json(&drop_counters())).unwrap() + "\n"),
        );
        assert_eq!(dropstats(&[], None), "");
        assert!(dropstats(&drop_counters(), None)
            .lines()
            .any(|l| l == "TTL Exceeded                  2"));
    }
}
