//! Kubernetes Services, without kube-proxy: each Service port on each cluster IP becomes a
//! VIP that the flow loop translates (flows.rs): a pod's new connection to it is DNATed to
//! one ready endpoint, on any node, and its replies SNATed back to the VIP.
//!
//! Two reflector stores, Services and EndpointSlices (a Service's slices carry the label
//! `kubernetes.io/service-name`, one address family each, several per large Service).
//! As the other watches do, every change marks a debounced pass that compiles both stores
//! into the whole list of VIPs and hands it to the [`ServiceTable`]; the flow loop sees
//! the new generation and removes the connections whose backend went. Only endpoints
//! whose `ready` condition is not false are backends: a terminating pod is not ready, so
//! it gets no new flows. A Service port of a protocol the flow table cannot translate
//! (SCTP) is skipped and reported.

use super::report::{reference, Reports};
use super::{DEBOUNCE, RESYNC};
use crate::policy::{proto, Backend, Service, ServiceTable};
use k8s_openapi::api::core::v1::Service as KubeService;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::ResourceExt;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tokio::sync::Notify;
use tracing::{info, warn};

/// The label that ties an EndpointSlice to its Service.
const SERVICE_NAME: &str = "kubernetes.io/service-name";

/// The Services compiled: every VIP, and what was wrong, by "namespace/name".
#[derive(Debug, Default, PartialEq)]
pub struct Compiled {
    pub vips: Vec<Service>,
    pub problems: BTreeMap<String, String>,
}

/// The ready endpoints of the Service `namespace/name` for the port named `port_name` (""
/// for an unnamed port) in `family`, sorted: the same list on every pass and every node.
fn backends(
    slices: &[&EndpointSlice],
    family: &str,
    port_name: &str,
    port_proto: &str,
) -> Vec<Backend> {
    let mut out = BTreeSet::new();
    for s in slices.iter().filter(|s| s.address_type == family) {
        // A slice names the Service's ports with the endpoints' numbers for them (a named
        // targetPort resolved per pod).
        let number = s.ports.iter().flatten().find_map(|p| {
            let name = p.name.as_deref().unwrap_or("");
            let proto = p.protocol.as_deref().unwrap_or("TCP");
            (name == port_name && proto == port_proto)
                .then_some(p.port)
                .flatten()
        });
        let Some(number) = number.and_then(|n| u16::try_from(n).ok()) else {
            continue;
        };
        for e in s.endpoints.iter().flatten() {
            if e.conditions.as_ref().and_then(|c| c.ready) == Some(false) {
                continue;
            }
            for a in &e.addresses {
                if let Ok(ip) = a.parse::<IpAddr>() {
                    out.insert(SocketAddr::new(ip, number));
                }
            }
        }
    }
    out.into_iter().collect()
}

/// The VIPs of all `services` with their backends from `slices`.
pub fn compile(services: &[KubeService], slices: &[EndpointSlice]) -> Compiled {
    let mut c = Compiled::default();
    let mut by_service: BTreeMap<(String, String), Vec<&EndpointSlice>> = BTreeMap::new();
    for s in slices {
        if let (Some(ns), Some(svc)) = (s.namespace(), s.labels().get(SERVICE_NAME)) {
            by_service.entry((ns, svc.clone())).or_default().push(s);
        }
    }
    let mut services: Vec<&KubeService> = services.iter().collect();
    services.sort_by_key(|s| (s.namespace(), s.name_any()));
    for svc in services {
        let (Some(ns), Some(spec)) = (svc.namespace(), svc.spec.as_ref()) else {
            continue;
        };
        let name = svc.name_any();
        // ExternalName Services are DNS only; headless ones (clusterIP None) need nothing.
        if spec.type_.as_deref() == Some("ExternalName") {
            continue;
        }
        let ips: Vec<IpAddr> = spec
            .cluster_ips
            .iter()
            .flatten()
            .chain(spec.cluster_ip.iter())
            .filter_map(|a| a.parse().ok())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let affinity = spec.session_affinity.as_deref() == Some("ClientIP");
        let slices = by_service
            .get(&(ns.clone(), name.clone()))
            .map(Vec::as_slice)
            .unwrap_or_default();
        let mut skipped = Vec::new();
        for port in spec.ports.iter().flatten() {
            let protocol = port.protocol.as_deref().unwrap_or("TCP");
            let number = match protocol {
                "TCP" => proto::TCP,
                "UDP" => proto::UDP,
                other => {
                    skipped.push(format!("port {} ({other})", port.port));
                    continue;
                }
            };
            let Ok(vport) = u16::try_from(port.port) else {
                continue;
            };
            let port_name = port.name.as_deref().unwrap_or("");
            for &vip in &ips {
                let family = if vip.is_ipv4() { "IPv4" } else { "IPv6" };
                c.vips.push(Service {
                    name: format!("{ns}/{name}:{}", port_name_or_number(port_name, vport)),
                    network: String::new(),
                    vrf: None,
                    vip,
                    port: vport,
                    proto: number,
                    backends: backends(slices, family, port_name, protocol),
                    client_affinity: affinity,
                });
            }
        }
        if !skipped.is_empty() {
            c.problems.insert(
                format!("{ns}/{name}"),
                format!(
                    "{} not served: vrouter translates TCP and UDP only",
                    skipped.join(", ")
                ),
            );
        }
    }
    c
}

fn port_name_or_number(name: &str, number: u16) -> String {
    if name.is_empty() {
        number.to_string()
    } else {
        name.to_string()
    }
}

/// Watches Services and EndpointSlices and keeps `table`'s Kubernetes services, for ever.
pub async fn run(client: kube::Client, table: Arc<ServiceTable>, node_name: String) {
    let mut reports = Reports::new(client.clone(), &node_name);
    let dirty = Arc::new(Notify::new());
    let services = super::watch_all::<KubeService>(&client, &dirty, "service");
    let slices = super::watch_all::<EndpointSlice>(&client, &dirty, "endpoint slice");
    if services.wait_until_ready().await.is_err() || slices.wait_until_ready().await.is_err() {
        warn!("service stores closed before they were ready");
        return;
    }
    let mut logged = BTreeMap::new();
    loop {
        let all: Vec<KubeService> = services.state().iter().map(|s| (**s).clone()).collect();
        let eps: Vec<EndpointSlice> = slices.state().iter().map(|s| (**s).clone()).collect();
        let c = compile(&all, &eps);
        for (what, why) in c
            .problems
            .iter()
            .filter(|(k, v)| logged.get(*k) != Some(*v))
        {
            warn!(service = %what, problem = %why, "service");
        }
        logged.clone_from(&c.problems);
        for svc in &all {
            let (ns, name) = (svc.namespace().unwrap_or_default(), svc.name_any());
            if let Some(why) = c.problems.get(&format!("{ns}/{name}")) {
                let r = reference("v1", "Service", Some(&ns), &name, svc.uid().as_deref());
                reports.problem(r, "UnsupportedServicePort", why).await;
            }
        }
        let (vips, backends) = (
            c.vips.len(),
            c.vips.iter().map(|v| v.backends.len()).sum::<usize>(),
        );
        if table.set_cluster(c.vips) {
            info!(vips, backends, "services from the API");
        }
        let _ = tokio::time::timeout(RESYNC, dirty.notified()).await;
        tokio::time::sleep(DEBOUNCE).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{ServicePort, ServiceSpec};
    use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn service(name: &str, ips: &[&str], ports: &[(&str, i32, &str)]) -> KubeService {
        KubeService {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("shop".into()),
                ..Default::default()
            },
            spec: Some(ServiceSpec {
                cluster_ip: ips.first().map(|s| s.to_string()),
                cluster_ips: Some(ips.iter().map(|s| s.to_string()).collect()),
                ports: Some(
                    ports
                        .iter()
                        .map(|(n, p, proto)| ServicePort {
                            name: (!n.is_empty()).then(|| n.to_string()),
                            port: *p,
                            protocol: Some(proto.to_string()),
                            ..Default::default()
                        })
                        .collect(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// A slice of Service `svc`: `ports` (name, number, protocol), `eps` (address, ready).
    fn slice(
        svc: &str,
        family: &str,
        ports: &[(&str, i32, &str)],
        eps: &[(&str, Option<bool>)],
    ) -> EndpointSlice {
        EndpointSlice {
            metadata: ObjectMeta {
                name: Some(format!("{svc}-{family}")),
                namespace: Some("shop".into()),
                labels: Some([(SERVICE_NAME.to_string(), svc.to_string())].into()),
                ..Default::default()
            },
            address_type: family.into(),
            endpoints: Some(
                eps.iter()
                    .map(|(a, ready)| Endpoint {
                        addresses: vec![a.to_string()],
                        conditions: Some(EndpointConditions {
                            ready: *ready,
                            ..Default::default()
                        }),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ports: Some(
                ports
                    .iter()
                    .map(|(n, p, proto)| EndpointPort {
                        name: (!n.is_empty()).then(|| n.to_string()),
                        port: Some(*p),
                        protocol: Some(proto.to_string()),
                        ..Default::default()
                    })
                    .collect(),
            ),
        }
    }

    fn addrs(v: &Service) -> Vec<String> {
        v.backends.iter().map(|b| b.to_string()).collect()
    }

    #[test]
    fn each_port_and_family_is_a_vip_with_the_ready_endpoints_of_its_slices() {
        let svc = service(
            "web",
            &["10.96.0.20", "fd00:96::20"],
            &[("http", 80, "TCP"), ("dns", 53, "UDP")],
        );
        let v4 = slice(
            "web",
            "IPv4",
            &[("http", 8080, "TCP"), ("dns", 5353, "UDP")],
            &[
                ("10.32.0.7", Some(true)),
                ("10.32.0.5", None),
                ("10.32.0.9", Some(false)),
            ],
        );
        let v6 = slice(
            "web",
            "IPv6",
            &[("http", 8080, "TCP")],
            &[("fd00:32::7", Some(true))],
        );
        // A second IPv4 slice of the same Service adds its endpoints.
        let mut more = slice(
            "web",
            "IPv4",
            &[("http", 8080, "TCP")],
            &[("10.32.1.4", Some(true))],
        );
        more.metadata.name = Some("web-more".into());
        let c = compile(&[svc], &[v4, v6, more]);
        assert!(c.problems.is_empty());
        let find = |vip: &str, port: u16| {
            c.vips
                .iter()
                .find(|v| v.vip.to_string() == vip && v.port == port)
                .unwrap()
        };
        let http = find("10.96.0.20", 80);
        assert_eq!(http.name, "shop/web:http");
        assert_eq!((http.proto, http.vrf), (proto::TCP, None));
        // Not ready (terminating) is no backend; ready unset counts as ready; sorted.
        assert_eq!(
            addrs(http),
            ["10.32.0.5:8080", "10.32.0.7:8080", "10.32.1.4:8080"]
        );
        assert_eq!(
            addrs(find("10.96.0.20", 53)),
            ["10.32.0.5:5353", "10.32.0.7:5353"]
        );
        assert_eq!(addrs(find("fd00:96::20", 80)), ["[fd00:32::7]:8080"]);
        // The IPv6 slice has no dns port: that VIP exists, without backends.
        assert!(find("fd00:96::20", 53).backends.is_empty());
        assert_eq!(c.vips.len(), 4);
    }

    #[test]
    fn headless_external_name_and_other_services_slices_give_nothing() {
        let mut headless = service("db", &["None"], &[("", 5432, "TCP")]);
        headless.spec.as_mut().unwrap().cluster_ip = Some("None".into());
        let mut external = service("ext", &[], &[("", 443, "TCP")]);
        external.spec.as_mut().unwrap().type_ = Some("ExternalName".into());
        let other = slice("api", "IPv4", &[("", 443, "TCP")], &[("10.32.0.8", None)]);
        let unnamed = service("api2", &["10.96.0.30"], &[("", 443, "TCP")]);
        let c = compile(&[headless, external, unnamed], &[other]);
        assert_eq!(c.vips.len(), 1);
        assert_eq!(c.vips[0].name, "shop/api2:443");
        assert!(c.vips[0].backends.is_empty());
    }

    #[test]
    fn a_port_of_another_protocol_is_skipped_and_reported_and_the_rest_served() {
        let mut svc = service(
            "sig",
            &["10.96.0.40"],
            &[("a", 80, "TCP"), ("b", 9, "SCTP")],
        );
        svc.spec.as_mut().unwrap().session_affinity = Some("ClientIP".into());
        let s = slice("sig", "IPv4", &[("a", 80, "TCP")], &[("10.32.0.3", None)]);
        let c = compile(&[svc], &[s]);
        assert_eq!(c.vips.len(), 1);
        assert!(c.vips[0].client_affinity);
        assert_eq!(
            c.problems.get("shop/sig").map(String::as_str),
            Some("port 9 (SCTP) not served: vrouter translates TCP and UDP only")
        );
    }
}
