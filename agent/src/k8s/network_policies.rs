//! NetworkPolicies for the flow verdicts: reflectors over NetworkPolicies, Namespaces
//! and Pods (all of them: a policy selects peers anywhere in the cluster) compiled by
//! netpol.rs into the snapshot the flow loop reads. As the other watches do, every change
//! marks a debounced pass; a pass that changes the compiled rules moves their
//! generation, and the flow loop then judges the established flows again.
//!
//! A part of a policy that cannot be applied (a CIDR the API let through, a bad port
//! range) is skipped without widening access and reported: the agent's log, the gauge
//! `vrouter_agent_network_policy_problems`, and a Warning Event on the policy. The rest
//! of that policy and the other policies apply.

use super::report::{reference, Reports};
use super::{DEBOUNCE, RESYNC};
use crate::metrics::Metrics;
use crate::netpol::{self, Compiled};
use crate::published::Published;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::ResourceExt;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::Notify;
use tracing::{info, warn};

/// Watches NetworkPolicies, Namespaces and Pods and keeps `table` compiled, for ever.
pub async fn run(
    client: kube::Client,
    table: Arc<Published<Compiled>>,
    metrics: Arc<Metrics>,
    node_name: String,
) {
    let mut reports = Reports::new(client.clone(), &node_name);
    let dirty = Arc::new(Notify::new());
    let policies = super::watch_all::<NetworkPolicy>(&client, &dirty, "network policy");
    let namespaces = super::watch_all::<Namespace>(&client, &dirty, "namespace");
    let pods = super::watch_all::<Pod>(&client, &dirty, "pod");
    for (store_ready, what) in [
        (policies.wait_until_ready().await, "network policy"),
        (namespaces.wait_until_ready().await, "namespace"),
        (pods.wait_until_ready().await, "pod"),
    ] {
        if store_ready.is_err() {
            warn!("{what} store closed before it was ready");
            return;
        }
    }
    let mut logged: BTreeMap<String, String> = BTreeMap::new();
    loop {
        let all: Vec<NetworkPolicy> = policies.state().iter().map(|p| (**p).clone()).collect();
        // Without a policy nothing is isolated: the pods need not be compiled at all.
        let (compiled, problems) = if all.is_empty() {
            (Compiled::default(), Vec::new())
        } else {
            let ns: Vec<Namespace> = namespaces.state().iter().map(|n| (**n).clone()).collect();
            let ps: Vec<Pod> = pods.state().iter().map(|p| (**p).clone()).collect();
            netpol::compile(&all, &ns, &ps)
        };
        report(&mut reports, &all, &problems, &mut logged).await;
        metrics.set_network_policy_problems(problems.len());
        if table.replace_if_changed(compiled) {
            info!(
                policies = all.len(),
                problems = problems.len(),
                "network policies compiled"
            );
        }
        let _ = tokio::time::timeout(RESYNC, dirty.notified()).await;
        tokio::time::sleep(DEBOUNCE).await;
    }
}

/// Logs new problems and files each policy's on it as a Warning Event.
async fn report(
    reports: &mut Reports,
    all: &[NetworkPolicy],
    problems: &[netpol::Problem],
    logged: &mut BTreeMap<String, String>,
) {
    let mut now: BTreeMap<String, String> = BTreeMap::new();
    for p in problems {
        let key = format!("{}/{}", p.namespace, p.name);
        let text = now.entry(key).or_default();
        if !text.is_empty() {
            text.push_str("; ");
        }
        text.push_str(&p.why);
    }
    for (what, why) in now.iter().filter(|(k, v)| logged.get(*k) != Some(*v)) {
        warn!(network_policy = %what, problem = %why, "network policy part skipped");
    }
    for np in all {
        let (ns, name) = (np.namespace().unwrap_or_default(), np.name_any());
        if let Some(why) = now.get(&format!("{ns}/{name}")) {
            let r = reference(
                "networking.k8s.io/v1",
                "NetworkPolicy",
                Some(&ns),
                &name,
                np.uid().as_deref(),
            );
            reports.problem(r, "BadNetworkPolicy", why).await;
        }
    }
    *logged = now;
}
