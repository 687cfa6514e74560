//! The CNI commands.

mod add;
mod check;
mod del;
mod gc;

pub use add::add;
pub use check::check;
pub use del::del;
pub use gc::{gc, status};

use crate::agent::Agent;
use crate::args::Env;
use crate::spec::NetConf;
use vrouter_port_api::PortRecord;

/// Everything a command needs.
pub struct Ctx {
    pub conf: NetConf,
    pub env: Env,
    pub agent: Agent,
}

impl Ctx {
    pub fn new(conf: NetConf, env: Env) -> Ctx {
        let agent = Agent::new(conf.agent.clone(), conf.poll_interval, conf.poll_retries);
        Ctx { conf, env, agent }
    }

    pub fn vm_name(&self) -> String {
        self.env.vm_name(&self.conf.cluster_name)
    }
}

/// The agent's ports for this pod and CNI_IFNAME: found by VM name or by sandbox id;
/// records without an ifname (only reserved so far) count for the VM name.
pub fn ports_of<'a>(
    ports: &'a [PortRecord],
    vm_name: &str,
    container_id: &str,
    ifname: &str,
) -> Vec<&'a PortRecord> {
    ports
        .iter()
        .filter(|p| p.vm_name == vm_name || (!p.vm_id.is_empty() && p.vm_id == container_id))
        .filter(|p| p.vm_ifname == ifname || (p.vm_ifname.is_empty() && p.vm_name == vm_name))
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use vrouter_port_api::PortState;

    pub(crate) fn record(vm_name: &str, vm_id: &str, ifname: &str) -> PortRecord {
        PortRecord {
            vmi_uuid: format!("vmi-{vm_name}-{ifname}"),
            vm_uuid: format!("uuid-{vm_name}"),
            vm_name: vm_name.into(),
            network: "default".into(),
            vn_uuid: "vn".into(),
            vrf: 1,
            mac_address: "02:00:00:00:00:01".into(),
            ip_address: "10.0.0.2".into(),
            v6_ip_address: String::new(),
            state: if vm_id.is_empty() {
                PortState::Reserved
            } else {
                PortState::Active
            },
            vm_id: vm_id.into(),
            vm_ifname: ifname.into(),
            host_ifname: if ifname.is_empty() {
                String::new()
            } else {
                format!("tap{ifname}-x")
            },
            vm_namespace: String::new(),
            vif: None,
            nh: 0,
        }
    }

    #[test]
    fn finds_ports_by_name_or_sandbox() {
        let ports = vec![
            record("k8s__a__p1", "c1", "eth0"),
            record("k8s__a__p1", "c1", "eth1"),
            record("k8s__a__p2", "c2", "eth0"),
            record("k8s__a__p3", "", ""),
        ];
        let found = ports_of(&ports, "k8s__a__p1", "zz", "eth0");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].vm_id, "c1");
        // By sandbox id when the VM name differs (e.g. DEL without K8S args).
        let found = ports_of(&ports, "k8s__default__c2", "c2", "eth0");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].vm_name, "k8s__a__p2");
        assert_eq!(ports_of(&ports, "k8s__a__p3", "c3", "eth0").len(), 1);
        assert!(ports_of(&ports, "k8s__a__p4", "c4", "eth0").is_empty());
    }
}
