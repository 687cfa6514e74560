//! Flow verdicts: the agent's side of the kernel's flow table.
//!
//! A packet of a policy-enabled pod that misses the table makes a Hold entry and a
//! FLOW_MISS notification. This thread evaluates the config's policy for it (and the
//! services: a VIP is DNATed to one backend, its replies SNATed back) and installs the
//! reverse entry, then the forward verdict, which releases the held packets. Both steps
//! go out pipelined for a whole batch of misses.
//!
//! Every `sweep-interval` it dumps the table: idle pairs older than `aging-seconds`,
//! closed TCP connections and service connections whose backend went are deleted, and
//! Hold entries older than `hold-audit-seconds` are decided again (their notification
//! was lost: the listener's socket overflowed under a flood, or the agent was
//! restarting). A change of the services sweeps at once.

use crate::kernel::HOST_VRF;
use crate::metrics::Metrics;
use crate::netpol;
use crate::policy::{FlowQuery, Policies, ServiceTable, Services, Verdict};
use crate::published::Published;
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{debug, info, warn};
use vrouter_client::flow::{Flow, FlowKey, FlowSpec};
use vrouter_client::{Client, Error};
use vrouter_uapi::{flow_action, flow_flag, flow_tcp};

/// Most misses decided in one pipelined round.
const BATCH: usize = 512;
/// Listener receive buffer: about 16K notifications before it overflows.
const RECV_BUFFER: usize = 8 << 20;
const ENOENT: i32 = 2;
const EEXIST: i32 = 17;

#[derive(Clone, Debug)]
pub struct Settings {
    pub aging: u32,
    pub hold_audit: u32,
    pub sweep: Duration,
}

/// A pod address of this node: its port's network and VRF.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub network: String,
    pub vrf: u32,
    /// The network is an isolated namespace's (TF's namespace isolation).
    pub isolated: bool,
    /// Its Services take connections from every network (the isolated namespace says
    /// `opencontrail.org/isolation.service: "false"`).
    pub services_open: bool,
}

/// Where pod addresses live: the bound local port holding `ip` (addresses come from the
/// node's one pool, so an address names one port whatever its VRF).
pub trait Directory: Send + 'static {
    fn endpoint(&self, ip: IpAddr) -> Option<Endpoint>;
    /// One of this node's own addresses (vhost, fabric).
    fn is_this_node(&self, ip: IpAddr) -> bool;
    /// In a pod network (this node's or another's); anything else is reached through
    /// the host.
    fn is_pod_address(&self, ip: IpAddr) -> bool;
}

/// What decides a new flow, besides where its ends live.
pub struct Rules<'a> {
    /// The config's per-network policy.
    pub policies: &'a Policies,
    pub services: &'a Services,
    /// The Kubernetes NetworkPolicies.
    pub network_policies: &'a netpol::Compiled,
}

/// Why the NetworkPolicies refuse `proto` from `src` to `dst`:`dport`, if they do. A
/// node always reaches its own pods and they answer it (Kubernetes requires it for
/// kubelet's probes), whichever end's packet missed first.
fn network_policy(
    np: &netpol::Compiled,
    dir: &dyn Directory,
    proto: u8,
    src: IpAddr,
    dst: IpAddr,
    dport: u16,
) -> Option<String> {
    match np.verdict(proto, src, dst, dport) {
        netpol::Verdict::Allow => None,
        netpol::Verdict::Deny { .. } if dir.is_this_node(src) || dir.is_this_node(dst) => None,
        netpol::Verdict::Deny { by } => Some(format!("network policy: {by}")),
    }
}

/// What one flow entry does with its packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Action {
    /// A `flow_action` value.
    pub action: u32,
    /// The NAT rewrites (`flow_flag::SNAT` ...), 0 without NAT.
    pub nat: u32,
}

impl Action {
    const fn plain(action: u32) -> Action {
        Action { action, nat: 0 }
    }
}

/// What to install for one new flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The entry that missed.
    pub forward: Action,
    /// The key replies arrive with: in the VRF of the port that answers.
    pub reverse_key: FlowKey,
    /// The entry of the replies.
    pub reverse: Action,
    /// Why a flow is dropped (for the log), None when allowed.
    pub denied: Option<String>,
}

/// TF's namespace isolation: an isolated namespace's pods take connections only from
/// their own network. Its pods may open connections elsewhere (the agent routes them to
/// the default network), and the replies come back through the flow pair.
fn isolation(src: Option<&Endpoint>, dst: Option<&Endpoint>) -> Option<String> {
    let dst = dst.filter(|d| d.isolated)?;
    match src {
        Some(s) if s.network == dst.network => None,
        Some(s) => Some(format!(
            "namespace isolation: {} takes no connections from {}",
            dst.network, s.network
        )),
        None => Some(format!(
            "namespace isolation: {} takes no connections from outside its network",
            dst.network
        )),
    }
}

/// The policy decision for a new flow `key`.
pub fn plan(key: &FlowKey, rules: &Rules, dir: &dyn Directory) -> Plan {
    let Rules {
        policies,
        services,
        network_policies,
    } = *rules;
    let src = dir.endpoint(key.src);
    let src_net = src.as_ref().map(|e| e.network.as_str());
    let q = |dst: IpAddr, dport: u16| FlowQuery {
        proto: key.proto,
        src: key.src,
        dst,
        sport: key.sport,
        dport,
    };
    // Replies come from the answering pod's VRF (another network's, for an isolated pod
    // reaching the default network); from outside the pod networks they come through
    // the host, in its VRF (the datapath looks the host's packets to pods up).
    let reply_vrf = |ip: IpAddr, dst: &Option<Endpoint>| match dst {
        Some(e) => e.vrf,
        None if !dir.is_pod_address(ip) => HOST_VRF,
        None => key.vrf,
    };
    if let Some(svc) = services.lookup(key.vrf, key.proto, key.dst, key.dport) {
        // The 5-tuple's hash picks the backend, the same one again if the miss is retried.
        let Some(backend) = svc.pick_for(&q(key.dst, key.dport)) else {
            return deny(key, format!("service {} has no backend", svc.name));
        };
        let (bip, bport) = (backend.ip(), backend.port());
        let dst = dir.endpoint(bip);
        let guarded = dst.as_ref().filter(|d| !d.services_open);
        if let Some(why) = isolation(src.as_ref(), guarded) {
            return deny(key, why);
        }
        let dst_net = dst.as_ref().map(|e| e.network.as_str());
        if let Verdict::Deny { rule } = policies.evaluate(src_net, dst_net, &q(bip, bport)) {
            return deny(key, rule);
        }
        if let Some(why) = network_policy(network_policies, dir, key.proto, key.src, bip, bport) {
            return deny(key, why);
        }
        let port_nat = bport != key.dport;
        // A hairpin: the client is its own backend. Its packet, back with its own address
        // as source, would be dropped by its kernel as a martian; so its source becomes
        // the VIP it dialled, and its replies to the VIP are translated back.
        let hairpin = bip == key.src;
        let fwd_flags = flow_flag::DNAT
            | if port_nat { flow_flag::DPAT } else { 0 }
            | if hairpin { flow_flag::SNAT } else { 0 };
        let rev_flags = flow_flag::SNAT
            | if port_nat { flow_flag::SPAT } else { 0 }
            | if hairpin { flow_flag::DNAT } else { 0 };
        let reverse_key = FlowKey {
            vrf: reply_vrf(bip, &dst),
            src: bip,
            dst: if hairpin { key.dst } else { key.src },
            proto: key.proto,
            sport: bport,
            dport: key.sport,
        };
        return Plan {
            forward: Action {
                action: flow_action::NAT,
                nat: fwd_flags,
            },
            reverse_key,
            reverse: Action {
                action: flow_action::NAT,
                nat: rev_flags,
            },
            denied: None,
        };
    }
    let dst = dir.endpoint(key.dst);
    if let Some(why) = isolation(src.as_ref(), dst.as_ref()) {
        return deny(key, why);
    }
    let dst_net = dst.as_ref().map(|e| e.network.as_str());
    if let Some(why) = network_policy(
        network_policies,
        dir,
        key.proto,
        key.src,
        key.dst,
        key.dport,
    ) {
        return deny(key, why);
    }
    match policies.evaluate(src_net, dst_net, &q(key.dst, key.dport)) {
        Verdict::Allow => Plan {
            forward: Action::plain(flow_action::FORWARD),
            reverse_key: FlowKey {
                vrf: reply_vrf(key.dst, &dst),
                ..key.reverse()
            },
            reverse: Action::plain(flow_action::FORWARD),
            denied: None,
        },
        Verdict::Deny { rule } => deny(key, rule),
    }
}

/// Whether the pair `f` (either entry) and `rev` (its reverse) may stay as far as
/// services go: a connection to a VIP stays while its backend, the reverse entry's
/// source, is still one of the service's. Any other pair stays.
fn backend_still_serves(services: &Services, f: &Flow, rev: &Flow) -> bool {
    let serves = |to_vip: &Flow, from_backend: &Flow| {
        let backend = std::net::SocketAddr::new(from_backend.key.src, from_backend.key.sport);
        let k = &to_vip.key;
        services
            .lookup(k.vrf, k.proto, k.dst, k.dport)
            .is_some_and(|s| s.backends.contains(&backend))
    };
    let dnat = |e: &Flow| e.flags & flow_flag::DNAT != 0;
    match (dnat(f), dnat(rev)) {
        (false, _) => true,
        (true, false) => serves(f, rev),
        // A hairpin: both entries rewrite both addresses, and their keys mirror each
        // other; the one to the VIP is the one the service table knows.
        (true, true) => serves(f, rev) || serves(rev, f),
    }
}

/// Denied flows drop in both directions, counted as "Flow Action Drop".
fn deny(key: &FlowKey, why: String) -> Plan {
    Plan {
        forward: Action::plain(flow_action::DROP),
        reverse_key: key.reverse(),
        reverse: Action::plain(flow_action::DROP),
        denied: Some(why),
    }
}

pub struct FlowAgent<D: Directory> {
    policies: Policies,
    services: Arc<ServiceTable>,
    network_policies: Arc<Published<netpol::Compiled>>,
    dir: D,
    settings: Settings,
    metrics: Arc<Metrics>,
    /// The keys of the entries that opened the connections this agent allowed: which
    /// end of a pair opened it, for the NetworkPolicies' second look (the kernel's pair
    /// does not say). Pruned to the table at each sweep; empty after a restart, when a
    /// pair is judged both ways.
    opened_by: RefCell<HashSet<FlowKey>>,
    /// The NetworkPolicies' generation the established flows were last judged by.
    judged: Cell<u64>,
}

impl<D: Directory> FlowAgent<D> {
    pub fn new(
        policies: Policies,
        services: Arc<ServiceTable>,
        network_policies: Arc<Published<netpol::Compiled>>,
        dir: D,
        settings: Settings,
        metrics: Arc<Metrics>,
    ) -> Self {
        FlowAgent {
            judged: Cell::new(network_policies.generation()),
            policies,
            services,
            network_policies,
            dir,
            settings,
            metrics,
            opened_by: RefCell::new(HashSet::new()),
        }
    }

    /// Moves when the services or the NetworkPolicies change.
    fn rules_generation(&self) -> (u64, u64) {
        (
            self.services.generation(),
            self.network_policies.generation(),
        )
    }

    /// Runs forever on its own thread; reconnects when the module goes away and returns.
    pub fn run(self) {
        loop {
            match self.session() {
                Ok(()) => {}
                Err(e) => debug!(error = %e, "flow channel closed; retrying"),
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    }

    fn session(&self) -> Result<(), Error> {
        let mut listener = Client::connect()?.flow_misses()?;
        let _ = listener.set_recv_buffer(RECV_BUFFER);
        let mut writer = Client::connect()?;
        info!("listening for flow misses");
        // Whatever waited while we were away is decided at once.
        let mut next_sweep = Instant::now();
        let mut rules_seen = self.rules_generation();
        loop {
            let rules_now = self.rules_generation();
            if rules_now != rules_seen {
                rules_seen = rules_now;
                next_sweep = Instant::now();
            }
            let mut batch: Vec<Flow> = Vec::new();
            let wait = next_sweep
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1));
            let mut overrun = false;
            match listener.next_miss_timeout(wait) {
                Ok(Some(f)) => batch.push(f),
                Ok(None) => {}
                Err(Error::Overrun) => overrun = true,
                Err(e) => return Err(e),
            }
            // Drain what is queued already, up to a batch, without waiting for more: a
            // lone miss (one new connection) is decided at once.
            while !batch.is_empty() && batch.len() < BATCH {
                match listener.next_miss_timeout(Duration::ZERO) {
                    Ok(Some(f)) => batch.push(f),
                    Ok(None) => break,
                    Err(Error::Overrun) => {
                        overrun = true;
                        break;
                    }
                    Err(e) => return Err(e),
                }
            }
            if overrun {
                self.metrics.flow_overrun();
                next_sweep = Instant::now();
            }
            if !batch.is_empty() {
                self.metrics.flow_misses(batch.len() as u64);
                self.decide(&mut writer, batch)?;
            }
            if Instant::now() >= next_sweep {
                self.sweep(&mut writer)?;
                next_sweep = Instant::now() + self.settings.sweep;
            }
        }
    }

    /// Installs the plans for Hold entries `held`: reverse entries first (a NAT forward
    /// entry needs its reverse to exist), then the forward verdicts.
    fn decide(&self, c: &mut Client, held: Vec<Flow>) -> Result<(), Error> {
        let todo = self.plans(held);
        if todo.is_empty() {
            return Ok(());
        }
        let (mut rev_index, retake) = self.add_reverse_entries(c, &todo)?;
        self.take_over_reverse_entries(c, &todo, &retake, &mut rev_index);
        let orphans = self.add_forward_verdicts(c, &todo, &rev_index)?;
        Self::delete_orphans(c, &orphans)
    }

    /// The plan of each Hold entry in `held`, denials logged and counted.
    fn plans(&self, held: Vec<Flow>) -> Vec<(Flow, Plan)> {
        // Both directions of one exchange may have missed: decide each pair once.
        let mut seen = HashSet::new();
        let mut todo = Vec::new();
        let services = self.services.snapshot();
        let network_policies = self.network_policies.snapshot();
        let rules = Rules {
            policies: &self.policies,
            services: &services,
            network_policies: &network_policies,
        };
        let mut opened_by = self.opened_by.borrow_mut();
        for f in held.into_iter().filter(|f| f.is_hold()) {
            if seen.contains(&f.key.reverse()) || !seen.insert(f.key) {
                continue;
            }
            let p = plan(&f.key, &rules, &self.dir);
            if p.denied.is_none() {
                opened_by.insert(f.key);
            }
            if let Some(why) = &p.denied {
                debug!(key = ?f.key, rule = %why, "flow denied");
                self.metrics.flow_denied();
            }
            todo.push((f, p));
        }
        todo
    }

    /// Creates the reverse entries of `todo` in one batch. Returns, per plan, the index
    /// of its reverse entry (None without one), and the positions in `todo` of the plans
    /// whose reverse key has an entry already.
    fn add_reverse_entries(
        &self,
        c: &mut Client,
        todo: &[(Flow, Plan)],
    ) -> Result<(Vec<Option<u32>>, Vec<usize>), Error> {
        let rev_specs: Vec<FlowSpec> = todo
            .iter()
            .map(|(f, p)| FlowSpec {
                target: None,
                key: Some(p.reverse_key),
                action: p.reverse.action,
                flags: p.reverse.nat,
                drop_reason: None,
                rindex: Some(f.index),
            })
            .collect();
        let made = c.flow_new_batch(&rev_specs)?;
        // A reverse key with an entry already (its own Hold, or a leftover): take it over.
        let mut retake = Vec::new();
        let mut rev_index: Vec<Option<u32>> = Vec::with_capacity(todo.len());
        for ((_, p), r) in todo.iter().zip(made) {
            match r {
                Ok(rev) => rev_index.push(Some(rev.index)),
                Err(e) if e.errno() == Some(EEXIST) => {
                    rev_index.push(None);
                    retake.push(rev_index.len() - 1);
                }
                Err(e) => {
                    warn!(error = %e, key = ?p.reverse_key, "reverse flow refused");
                    self.metrics.flow_error();
                    rev_index.push(None);
                }
            }
        }
        Ok((rev_index, retake))
    }

    /// Turns the existing entries of the reverse keys of the plans `retake` (positions
    /// in `todo`) into their reverse entries, filling their slots in `rev_index`.
    fn take_over_reverse_entries(
        &self,
        c: &mut Client,
        todo: &[(Flow, Plan)],
        retake: &[usize],
        rev_index: &mut [Option<u32>],
    ) {
        for &slot in retake {
            let (f, p) = &todo[slot];
            let spec = match c.flow_lookup(&p.reverse_key) {
                Ok(existing) => FlowSpec {
                    target: Some((existing.index, existing.gen)),
                    key: None,
                    action: p.reverse.action,
                    flags: p.reverse.nat,
                    drop_reason: None,
                    rindex: Some(f.index),
                },
                Err(_) => continue,
            };
            match c.flow_new(&spec) {
                Ok(rev) => {
                    if let Some(s) = rev_index.get_mut(slot) {
                        *s = Some(rev.index);
                    }
                }
                Err(e) => {
                    warn!(error = %e, "reverse flow takeover refused");
                    self.metrics.flow_error();
                }
            }
        }
    }

    /// Sets the forward verdict of each plan with a reverse entry, in one batch. Returns
    /// the reverse entries left without their forward one (orphans), to delete.
    fn add_forward_verdicts(
        &self,
        c: &mut Client,
        todo: &[(Flow, Plan)],
        rev_index: &[Option<u32>],
    ) -> Result<Vec<(u32, Option<u32>)>, Error> {
        let mut fwd_specs = Vec::new();
        let mut made_rev = Vec::new();
        for ((f, p), rev) in todo.iter().zip(rev_index) {
            let Some(rev) = *rev else { continue };
            fwd_specs.push(FlowSpec {
                target: Some((f.index, f.gen)),
                key: None,
                action: p.forward.action,
                flags: p.forward.nat,
                drop_reason: None,
                rindex: Some(rev),
            });
            made_rev.push(rev);
        }
        let results = c.flow_new_batch(&fwd_specs)?;
        let mut orphans = Vec::new();
        for (r, rev) in results.into_iter().zip(made_rev) {
            match r {
                Ok(_) => self.metrics.flow_setup(),
                // The Hold went (flushed, deleted) before the verdict: drop our reverse.
                Err(e) if e.errno() == Some(ENOENT) => orphans.push((rev, None)),
                Err(e) => {
                    warn!(error = %e, "flow verdict refused");
                    self.metrics.flow_error();
                    orphans.push((rev, None));
                }
            }
        }
        Ok(orphans)
    }

    /// Deletes the reverse entries whose forward verdict did not take.
    fn delete_orphans(c: &mut Client, orphans: &[(u32, Option<u32>)]) -> Result<(), Error> {
        if !orphans.is_empty() {
            let _ = c.flow_del_batch(orphans)?;
        }
        Ok(())
    }

    /// Forgets who opened the pairs this sweep deleted (`gone`). Entries also go without
    /// the agent (a vif's flows, evictions): once the record holds more keys than the
    /// table has entries, it keeps only the keys still in the table. That set is built
    /// only then, not at every sweep.
    fn forget_openers(&self, flows: &[Flow], gone: &HashSet<u32>) {
        let mut opened_by = self.opened_by.borrow_mut();
        for f in flows.iter().filter(|f| gone.contains(&f.index)) {
            opened_by.remove(&f.key);
        }
        let live_count = flows
            .iter()
            .filter(|f| !f.is_hold() && !gone.contains(&f.index))
            .count();
        if opened_by.len() > live_count {
            let live: HashSet<FlowKey> = flows
                .iter()
                .filter(|f| !f.is_hold() && !gone.contains(&f.index))
                .map(|f| f.key)
                .collect();
            opened_by.retain(|k| live.contains(k));
        }
    }

    /// Whether the NetworkPolicies `np` now refuse the connection of the pair `f`, `rev`.
    /// The end that opened it: the DNATed entry (a connection to a service), else the
    /// one this agent let open; when that is not known (the agent restarted), the pair
    /// goes only if refused both ways.
    fn now_refused(&self, np: &netpol::Compiled, f: &Flow, rev: &Flow) -> bool {
        let refuses = |open: &Flow, other: &Flow| {
            // A DNATed entry's real destination is its reverse entry's source.
            let (dst, dport) = if open.flags & flow_flag::DNAT != 0 {
                (other.key.src, other.key.sport)
            } else {
                (open.key.dst, open.key.dport)
            };
            network_policy(np, &self.dir, open.key.proto, open.key.src, dst, dport).is_some()
        };
        if f.flags & flow_flag::DNAT != 0 {
            return refuses(f, rev);
        }
        if rev.flags & flow_flag::DNAT != 0 {
            return refuses(rev, f);
        }
        let opened_by = self.opened_by.borrow();
        match (opened_by.contains(&f.key), opened_by.contains(&rev.key)) {
            (true, _) => refuses(f, rev),
            (false, true) => refuses(rev, f),
            (false, false) => refuses(f, rev) && refuses(rev, f),
        }
    }

    /// Ages idle pairs, removes closed TCP connections and those of gone service
    /// backends, decides stale Hold entries.
    fn sweep(&self, c: &mut Client) -> Result<(), Error> {
        let services = self.services.snapshot();
        // New NetworkPolicies (or pod and namespace labels): every established pair is
        // judged again, and the dropping pairs go, so that retries are decided anew.
        let network_policies = self.network_policies.snapshot();
        let judge = self.judged.replace(self.network_policies.generation())
            != self.network_policies.generation();
        let mut revoked = 0u64;
        let flows = c.flow_dump()?;
        let by_index: HashMap<u32, &Flow> = flows.iter().map(|f| (f.index, f)).collect();
        let mut holds = 0u64;
        let mut stale_holds = Vec::new();
        let mut delete: Vec<(u32, Option<u32>)> = Vec::new();
        let mut gone = HashSet::new();
        let (mut aged, mut closed, mut unbacked) = (0u64, 0u64, 0u64);
        for f in &flows {
            if f.is_hold() {
                holds += 1;
                if f.age >= self.settings.hold_audit {
                    stale_holds.push(f.clone());
                }
                continue;
            }
            if gone.contains(&f.index) {
                continue;
            }
            // The pair goes together: idle when both directions are, closed when either
            // saw the connection die.
            let rev = f
                .rindex
                .and_then(|r| by_index.get(&r))
                .filter(|r| r.rindex == Some(f.index) && !r.is_hold());
            let idle =
                f.age >= self.settings.aging && rev.is_none_or(|r| r.age >= self.settings.aging);
            let dead = f.tcp_flags & flow_tcp::DEAD != 0
                || rev.is_some_and(|r| r.tcp_flags & flow_tcp::DEAD != 0);
            let backend_gone = rev.is_some_and(|r| !backend_still_serves(&services, f, r));
            let refused = judge
                && (f.action == flow_action::DROP
                    || rev.is_some_and(|r| self.now_refused(&network_policies, f, r)));
            if idle || dead || backend_gone || refused {
                if idle {
                    aged += 1
                } else if dead {
                    closed += 1
                } else if backend_gone {
                    unbacked += 1
                } else {
                    revoked += 1
                }
                delete.push((f.index, Some(f.gen)));
                gone.insert(f.index);
                if let Some(r) = rev {
                    delete.push((r.index, Some(r.gen)));
                    gone.insert(r.index);
                }
            }
        }
        if !delete.is_empty() {
            // An entry that went meanwhile is not an error.
            let _ = c.flow_del_batch(&delete)?;
        }
        self.metrics.flows_swept(aged, closed, unbacked);
        self.metrics.flows_revoked(revoked);
        self.forget_openers(&flows, &gone);
        self.metrics.set_flows(
            (flows.len() as u64).saturating_sub(delete.len() as u64),
            holds,
        );
        if !stale_holds.is_empty() {
            debug!(
                count = stale_holds.len(),
                "deciding Hold entries whose miss was not seen"
            );
            self.metrics.flow_audited(stale_holds.len() as u64);
            for chunk in stale_holds.chunks(BATCH) {
                self.decide(c, chunk.to_vec())?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    /// Two default-network pods (.2, .3 in VRF 1), two of isolated network "iso" (.10,
    /// .11 in VRF 5), one of isolated network "other" (.20 in VRF 6), one of isolated
    /// network "open" whose Services take any network's connections (.21 in VRF 7).
    struct Pods;

    impl Directory for Pods {
        fn endpoint(&self, ip: IpAddr) -> Option<Endpoint> {
            let IpAddr::V4(a) = ip else { return None };
            let (network, vrf, isolated) = match a.octets()[3] {
                2 | 3 => ("default", 1, false),
                10 | 11 => ("iso", 5, true),
                20 => ("other", 6, true),
                21 => ("open", 7, true),
                _ => return None,
            };
            Some(Endpoint {
                network: network.into(),
                vrf,
                isolated,
                services_open: network == "open",
            })
        }

        fn is_this_node(&self, ip: IpAddr) -> bool {
            ip == IpAddr::V4(Ipv4Addr::new(10, 77, 0, 1))
        }

        fn is_pod_address(&self, ip: IpAddr) -> bool {
            matches!(ip, IpAddr::V4(a) if a.octets()[..3] == [10, 32, 0])
        }
    }

    fn key(vrf: u32, src: u8, dst: u8) -> FlowKey {
        FlowKey {
            vrf,
            src: IpAddr::V4(Ipv4Addr::new(10, 32, 0, src)),
            dst: IpAddr::V4(Ipv4Addr::new(10, 32, 0, dst)),
            proto: 6,
            sport: 40000,
            dport: 8080,
        }
    }

    fn plan_of(k: &FlowKey) -> Plan {
        let cfg = "node-name = \"n\"\nstate-dir = \"/x\"\npod-cidr = \"10.32.0.0/24\"\n";
        let node = crate::config::Node::parse(cfg).unwrap();
        let rules = Rules {
            policies: &Policies::from_node(&node),
            services: &Services::from_node(&node),
            network_policies: &netpol::Compiled::default(),
        };
        plan(k, &rules, &Pods)
    }

    #[test]
    fn an_isolated_pod_opens_connections_to_the_default_network_and_gets_replies() {
        let k = key(5, 10, 2);
        let p = plan_of(&k);
        assert_eq!(p.denied, None);
        assert_eq!(p.forward.action, flow_action::FORWARD);
        // the reply comes from the default pod's vif, in its VRF
        assert_eq!(
            p.reverse_key,
            FlowKey {
                vrf: 1,
                ..k.reverse()
            }
        );
        assert_eq!(p.reverse.action, flow_action::FORWARD);
    }

    #[test]
    fn nothing_outside_an_isolated_network_opens_a_connection_into_it() {
        for k in [key(1, 2, 10), key(6, 20, 11), key(1, 99, 10)] {
            let p = plan_of(&k);
            assert_eq!(p.forward.action, flow_action::DROP, "{k:?}");
            assert!(p.denied.unwrap().contains("namespace isolation"));
        }
    }

    #[test]
    fn flows_inside_one_network_stay_in_its_vrf() {
        for k in [key(5, 10, 11), key(1, 2, 3)] {
            let p = plan_of(&k);
            assert_eq!(p.denied, None);
            assert_eq!(p.reverse_key, k.reverse());
        }
    }

    /// A Kubernetes Service 10.96.0.20:80 -> :8080 on pods .3 (default network) and .11
    /// (isolated "iso").
    fn cluster_service(backends: &[u8]) -> Services {
        Services::new(vec![crate::policy::Service {
            name: "shop/web:80".into(),
            network: String::new(),
            vrf: None,
            vip: "10.96.0.20".parse().unwrap(),
            port: 80,
            proto: 6,
            backends: backends
                .iter()
                .map(|&b| std::net::SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 32, 0, b)), 8080))
                .collect(),
            client_affinity: false,
        }])
    }

    fn to_vip(vrf: u32, src: u8) -> FlowKey {
        FlowKey {
            dst: "10.96.0.20".parse().unwrap(),
            dport: 80,
            ..key(vrf, src, 0)
        }
    }

    fn plan_with(k: &FlowKey, services: &Services) -> Plan {
        let cfg = "node-name = \"n\"\nstate-dir = \"/x\"\npod-cidr = \"10.32.0.0/24\"\n";
        let node = crate::config::Node::parse(cfg).unwrap();
        let rules = Rules {
            policies: &Policies::from_node(&node),
            services,
            network_policies: &netpol::Compiled::default(),
        };
        plan(k, &rules, &Pods)
    }

    #[test]
    fn a_cluster_service_is_translated_from_any_vrf_and_replies_come_from_its_backend_vrf() {
        let svc = cluster_service(&[3]);
        for (vrf, src) in [(1, 2), (5, 10)] {
            let p = plan_with(&to_vip(vrf, src), &svc);
            assert_eq!(p.denied, None, "from VRF {vrf}");
            assert_eq!(p.forward.action, flow_action::NAT);
            assert_eq!(p.forward.nat, flow_flag::DNAT | flow_flag::DPAT);
            assert_eq!(p.reverse.nat, flow_flag::SNAT | flow_flag::SPAT);
            assert_eq!(
                p.reverse_key,
                FlowKey {
                    vrf: 1,
                    src: IpAddr::V4(Ipv4Addr::new(10, 32, 0, 3)),
                    dst: IpAddr::V4(Ipv4Addr::new(10, 32, 0, src)),
                    proto: 6,
                    sport: 8080,
                    dport: 40000,
                }
            );
        }
        // No ready backend: the flow is dropped, not sent on to the VIP.
        let p = plan_with(&to_vip(1, 2), &cluster_service(&[]));
        assert_eq!(p.forward.action, flow_action::DROP);
    }

    #[test]
    fn replies_from_outside_the_pod_networks_come_through_the_host() {
        // The `kubernetes` Service: its endpoint, the API server, is no pod.
        let api: IpAddr = "10.77.0.5".parse().unwrap();
        let mut svc = cluster_service(&[]);
        let mut list = svc.all().to_vec();
        list[0].backends = vec![std::net::SocketAddr::new(api, 6443)];
        svc = Services::new(list);
        let p = plan_with(&to_vip(5, 10), &svc);
        assert_eq!(p.denied, None);
        assert_eq!((p.reverse_key.vrf, p.reverse_key.src), (HOST_VRF, api));
        // A plain connection out of the pod networks too; a pod of another node (not
        // known here) answers in the VRF the connection left from.
        let out = FlowKey {
            dst: api,
            ..key(5, 10, 0)
        };
        assert_eq!(plan_of(&out).reverse_key.vrf, HOST_VRF);
        assert_eq!(plan_of(&key(5, 10, 99)).reverse_key.vrf, 5);
    }

    #[test]
    fn a_service_of_an_isolated_namespace_takes_connections_only_from_it() {
        let svc = cluster_service(&[11]);
        assert_eq!(plan_with(&to_vip(5, 10), &svc).denied, None);
        let p = plan_with(&to_vip(1, 2), &svc);
        assert!(p.denied.unwrap().contains("namespace isolation"));
    }

    #[test]
    fn isolation_service_false_opens_the_services_but_not_the_pods() {
        let svc = cluster_service(&[21]);
        for (vrf, src) in [(1, 2), (5, 10)] {
            assert_eq!(
                plan_with(&to_vip(vrf, src), &svc).denied,
                None,
                "from VRF {vrf}"
            );
        }
        let direct = plan_with(&key(1, 2, 21), &Services::new(Vec::new()));
        assert!(direct.denied.unwrap().contains("namespace isolation"));
    }

    fn entry(index: u32, key: FlowKey, flags: u32) -> Flow {
        Flow {
            index,
            gen: 1,
            key,
            action: flow_action::NAT,
            flags,
            drop_reason: None,
            rindex: None,
            tcp_flags: 0,
            packets: 0,
            bytes: 0,
            age: 0,
            vif: None,
            queued: 0,
        }
    }

    #[test]
    fn a_service_connection_stays_while_its_backend_does() {
        let k = to_vip(1, 2);
        let p = plan_with(&k, &cluster_service(&[3, 11]));
        let fwd = entry(1, k, p.forward.nat);
        let rev = entry(2, p.reverse_key, p.reverse.nat);
        let backend = p.reverse_key.src;
        let b = match backend {
            IpAddr::V4(a) => a.octets()[3],
            IpAddr::V6(_) => unreachable!(),
        };
        assert!(backend_still_serves(&cluster_service(&[3, 11]), &fwd, &rev));
        // Another backend joining or the other leaving keeps it.
        assert!(backend_still_serves(&cluster_service(&[b, 20]), &fwd, &rev));
        // Its backend leaving, or the whole Service, ends it.
        let other = if b == 3 { 11 } else { 3 };
        assert!(!backend_still_serves(
            &cluster_service(&[other]),
            &fwd,
            &rev
        ));
        assert!(!backend_still_serves(
            &Services::new(Vec::new()),
            &fwd,
            &rev
        ));
        // Seen from its reverse entry, or for a pair without NAT: nothing to check.
        assert!(backend_still_serves(&Services::new(Vec::new()), &rev, &fwd));
        let plain = entry(3, key(1, 2, 3), 0);
        assert!(backend_still_serves(
            &Services::new(Vec::new()),
            &plain,
            &rev
        ));
    }

    #[test]
    fn a_pod_reaching_itself_through_its_service_sees_the_vip_as_its_peer() {
        let svc = cluster_service(&[2]);
        let k = to_vip(1, 2);
        let p = plan_with(&k, &svc);
        assert_eq!(p.denied, None);
        assert_eq!(
            p.forward.nat,
            flow_flag::DNAT | flow_flag::DPAT | flow_flag::SNAT
        );
        assert_eq!(
            p.reverse.nat,
            flow_flag::SNAT | flow_flag::SPAT | flow_flag::DNAT
        );
        // The pod answers the VIP, from its target port to its own source port.
        assert_eq!(
            p.reverse_key,
            FlowKey {
                vrf: 1,
                src: k.src,
                dst: k.dst,
                proto: 6,
                sport: 8080,
                dport: 40000,
            }
        );
        // The pair stays while the pod serves, seen from either entry, and goes with it.
        let fwd = entry(1, k, p.forward.nat);
        let rev = entry(2, p.reverse_key, p.reverse.nat);
        assert!(backend_still_serves(&svc, &fwd, &rev));
        assert!(backend_still_serves(&svc, &rev, &fwd));
        for gone in [cluster_service(&[3]), Services::new(Vec::new())] {
            assert!(!backend_still_serves(&gone, &fwd, &rev));
            assert!(!backend_still_serves(&gone, &rev, &fwd));
        }
    }

    /// Pods x/a (10.32.0.2) and x/b (10.32.0.3), and NetworkPolicy `spec` in x.
    fn network_policies(spec: serde_json::Value) -> netpol::Compiled {
        let pod = |name: &str, ip: &str| -> k8s_openapi::api::core::v1::Pod {
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": name, "namespace": "x", "labels": {"pod": name}},
                "spec": {"containers": []},
                "status": {"phase": "Running", "podIPs": [{"ip": ip}]}
            }))
            .unwrap()
        };
        let policy = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "x"},
            "spec": spec
        }))
        .unwrap();
        let (c, problems) = netpol::compile(
            &[policy],
            &[],
            &[pod("a", "10.32.0.2"), pod("b", "10.32.0.3")],
        );
        assert!(problems.is_empty(), "{problems:?}");
        c
    }

    fn plan_under(k: &FlowKey, np: &netpol::Compiled) -> Plan {
        let cfg = "node-name = \"n\"\nstate-dir = \"/x\"\npod-cidr = \"10.32.0.0/24\"\n";
        let node = crate::config::Node::parse(cfg).unwrap();
        let rules = Rules {
            policies: &Policies::from_node(&node),
            services: &cluster_service(&[2]),
            network_policies: np,
        };
        plan(k, &rules, &Pods)
    }

    #[test]
    fn network_policies_decide_pod_flows_but_never_the_nodes_own() {
        // a takes TCP 8080 from b only, and sends nothing.
        let np = network_policies(serde_json::json!({
            "podSelector": {"matchLabels": {"pod": "a"}},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}],
                         "ports": [{"port": 8080}]}]
        }));
        assert_eq!(plan_under(&key(1, 3, 2), &np).denied, None, "b -> a:8080");
        let other_port = FlowKey {
            dport: 9090,
            ..key(1, 3, 2)
        };
        assert_eq!(
            plan_under(&other_port, &np).denied.as_deref(),
            Some("network policy: ingress of x/a")
        );
        assert_eq!(
            plan_under(&key(1, 2, 3), &np).denied.as_deref(),
            Some("network policy: egress of x/a")
        );
        // Through the service VIP (backend a): the policy sees the backend's port.
        assert_eq!(
            plan_under(&to_vip(1, 3), &np).denied,
            None,
            "b -> VIP -> a:8080"
        );
        // a answering the node (its reply is the packet that misses) is the node's own.
        let node = IpAddr::V4(Ipv4Addr::new(10, 77, 0, 1));
        let reply = FlowKey {
            dst: node,
            ..key(1, 2, 0)
        };
        assert_eq!(plan_under(&reply, &np).denied, None);
        let elsewhere = FlowKey {
            dst: IpAddr::V4(Ipv4Addr::new(10, 77, 0, 9)),
            ..reply
        };
        assert!(plan_under(&elsewhere, &np).denied.is_some());
    }
}
