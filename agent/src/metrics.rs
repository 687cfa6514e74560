//! Prometheus metrics (`GET /metrics`): ports by state, addresses in use, kernel sync
//! errors, reconciliations, request latencies per route, and the flow table (entries,
//! misses, setups, denials, aging; the setup rate is `rate(flow_setups_total)`).

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FamilyLabel {
    family: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

pub struct Metrics {
    registry: Registry,
    ports: Family<StateLabel, Gauge>,
    addresses: Family<FamilyLabel, Gauge>,
    kernel_errors: Counter,
    pod_port_errors: Counter,
    reconciles: Counter,
    kernel_ready: Gauge,
    network_policy_problems: Gauge,
    requests: Family<RequestLabels, Histogram>,
    flows: Family<StateLabel, Gauge>,
    flow_events: Family<EventLabel, Counter>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabel {
    event: &'static str,
}

fn latency_histogram() -> Histogram {
    // 50 us .. ~1.6 s
    Histogram::new(exponential_buckets(0.00005, 2.0, 16))
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("vrouter_agent");
        let ports = Family::<StateLabel, Gauge>::default();
        let addresses = Family::<FamilyLabel, Gauge>::default();
        let kernel_errors = Counter::default();
        let pod_port_errors = Counter::default();
        let reconciles = Counter::default();
        let kernel_ready = Gauge::default();
        let network_policy_problems = Gauge::default();
        let requests = Family::<RequestLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register("ports", "Pod interfaces by state", ports.clone());
        registry.register(
            "addresses_in_use",
            "Pod addresses handed out",
            addresses.clone(),
        );
        registry.register(
            "kernel_sync_errors",
            "Kernel operations that failed",
            kernel_errors.clone(),
        );
        registry.register(
            "pod_port_errors",
            "Pods of this node the agent could not give a port",
            pod_port_errors.clone(),
        );
        registry.register(
            "reconciles",
            "Reconciliations of the kernel tables",
            reconciles.clone(),
        );
        registry.register(
            "kernel_ready",
            "1 when the kernel module is reachable and synced",
            kernel_ready.clone(),
        );
        registry.register(
            "network_policy_problems",
            "Parts of NetworkPolicies that cannot be applied (reported, skipped without widening access)",
            network_policy_problems.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Port API request latency",
            requests.clone(),
        );
        let flows = Family::<StateLabel, Gauge>::default();
        let flow_events = Family::<EventLabel, Counter>::default();
        registry.register(
            "flows",
            "Flow table entries at the last sweep, by state",
            flows.clone(),
        );
        registry.register(
            "flow_events",
            "Flow events: miss, setup, denied, error, aged, closed, backend_gone (a service connection whose backend went), policy_revoked (NetworkPolicies changed), audited (Hold decided from a dump), overrun",
            flow_events.clone(),
        );
        Metrics {
            registry,
            ports,
            addresses,
            kernel_errors,
            pod_port_errors,
            reconciles,
            kernel_ready,
            network_policy_problems,
            requests,
            flows,
            flow_events,
        }
    }

    pub fn set_ports(&self, reserved: i64, active: i64, down: i64) {
        self.ports
            .get_or_create(&StateLabel { state: "reserved" })
            .set(reserved);
        self.ports
            .get_or_create(&StateLabel { state: "active" })
            .set(active);
        self.ports
            .get_or_create(&StateLabel { state: "down" })
            .set(down);
    }

    pub fn set_addresses(&self, v4: i64, v6: i64) {
        self.addresses
            .get_or_create(&FamilyLabel { family: "ipv4" })
            .set(v4);
        self.addresses
            .get_or_create(&FamilyLabel { family: "ipv6" })
            .set(v6);
    }

    pub fn kernel_error(&self) {
        self.kernel_errors.inc();
    }

    pub fn pod_port_error(&self) {
        self.pod_port_errors.inc();
    }

    pub fn reconciled(&self) {
        self.reconciles.inc();
    }

    pub fn set_network_policy_problems(&self, n: usize) {
        self.network_policy_problems.set(n as i64);
    }

    pub fn set_kernel_ready(&self, ok: bool) {
        self.kernel_ready.set(i64::from(ok));
    }

    pub fn observe_request(&self, labels: RequestLabels, seconds: f64) {
        self.requests.get_or_create(&labels).observe(seconds);
    }

    fn flow_event(&self, event: &'static str, n: u64) {
        self.flow_events
            .get_or_create(&EventLabel { event })
            .inc_by(n);
    }

    pub fn flow_misses(&self, n: u64) {
        self.flow_event("miss", n);
    }

    pub fn flow_setup(&self) {
        self.flow_event("setup", 1);
    }

    pub fn flow_denied(&self) {
        self.flow_event("denied", 1);
    }

    pub fn flow_error(&self) {
        self.flow_event("error", 1);
    }

    pub fn flow_overrun(&self) {
        self.flow_event("overrun", 1);
    }

    pub fn flow_audited(&self, n: u64) {
        self.flow_event("audited", n);
    }

    /// Pairs the sweep removed: idle, closed, or a service connection whose backend went.
    pub fn flows_swept(&self, aged: u64, closed: u64, unbacked: u64) {
        self.flow_event("aged", aged);
        self.flow_event("closed", closed);
        self.flow_event("backend_gone", unbacked);
    }

    /// Pairs removed because the NetworkPolicies changed and now refuse them (or they
    /// were dropping and are to be decided anew).
    pub fn flows_revoked(&self, n: u64) {
        self.flow_event("policy_revoked", n);
    }

    pub fn set_flows(&self, active: u64, hold: u64) {
        self.flows
            .get_or_create(&StateLabel { state: "active" })
            .set(active as i64);
        self.flows
            .get_or_create(&StateLabel { state: "hold" })
            .set(hold as i64);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family() {
        let m = Metrics::new();
        m.set_ports(1, 2, 0);
        m.set_addresses(3, 1);
        m.kernel_error();
        m.flow_setup();
        m.set_flows(4, 1);
        m.observe_request(
            RequestLabels {
                method: "POST".into(),
                route: "/vm".into(),
                status: 200,
            },
            0.001,
        );
        let t = m.render();
        for needle in [
            "vrouter_agent_ports{state=\"active\"} 2",
            "vrouter_agent_addresses_in_use{family=\"ipv4\"} 3",
            "vrouter_agent_kernel_sync_errors_total 1",
            "vrouter_agent_flow_events_total{event=\"setup\"} 1",
            "vrouter_agent_flows{state=\"hold\"} 1",
            "vrouter_agent_http_request_duration_seconds_count{method=\"POST\",route=\"/vm\",status=\"200\"} 1",
        ] {
            assert!(t.contains(needle), "{needle} missing in\n{t}");
        }
    }
}
