//! The environment the runtime passes (CNI_*), CNI_ARGS, and what we derive from them:
//! the pod's VM name and the host end's interface name.

use crate::spec::{code, valid_id, CniError, CniResultT};

/// The CNI commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Add,
    Del,
    Check,
    Status,
    Gc,
    Version,
}

impl Command {
    pub fn parse(s: &str) -> Option<Command> {
        match s {
            "ADD" => Some(Command::Add),
            "DEL" => Some(Command::Del),
            "CHECK" => Some(Command::Check),
            "STATUS" => Some(Command::Status),
            "GC" => Some(Command::Gc),
            "VERSION" => Some(Command::Version),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Command::Add => "ADD",
            Command::Del => "DEL",
            Command::Check => "CHECK",
            Command::Status => "STATUS",
            Command::Gc => "GC",
            Command::Version => "VERSION",
        }
    }

    /// The variables the spec requires for the command (CNI_COMMAND itself aside).
    /// DEL may come without CNI_NETNS: the netns may be gone already.
    fn required(self) -> &'static [&'static str] {
        match self {
            Command::Add | Command::Check => {
                &["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"]
            }
            Command::Del => &["CNI_CONTAINERID", "CNI_IFNAME", "CNI_PATH"],
            Command::Status | Command::Gc => &["CNI_PATH"],
            Command::Version => &[],
        }
    }
}

/// CNI_ARGS keys we use (others, IgnoreUnknown included, are accepted and ignored).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CniArgs {
    pub pod_namespace: Option<String>,
    pub pod_name: Option<String>,
    pub infra_container_id: Option<String>,
    pub pod_uid: Option<String>,
}

impl CniArgs {
    /// `K=V;K=V`; empty items are skipped, an item without '=' is an error (code 4).
    pub fn parse(s: &str) -> CniResultT<CniArgs> {
        let mut out = CniArgs::default();
        for item in s.split(';').map(str::trim).filter(|i| !i.is_empty()) {
            let (k, v) = item.split_once('=').ok_or_else(|| {
                CniError::new(
                    code::INVALID_ENV,
                    format!("CNI_ARGS: invalid pair {item:?} (expected K=V)"),
                )
            })?;
            let v = (!v.is_empty()).then(|| v.to_string());
            match k {
                "K8S_POD_NAMESPACE" => out.pod_namespace = v,
                "K8S_POD_NAME" => out.pod_name = v,
                "K8S_POD_INFRA_CONTAINER_ID" => out.infra_container_id = v,
                "K8S_POD_UID" => out.pod_uid = v,
                _ => {}
            }
        }
        Ok(out)
    }
}

/// The environment of one invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Env {
    pub command: Command,
    pub container_id: String,
    /// Empty on DEL when the runtime did not pass it.
    pub netns: String,
    pub ifname: String,
    pub path: String,
    pub args: CniArgs,
}

/// A Linux interface name: 1..15 bytes, not "." or "..", no '/', ':' or whitespace.
pub fn valid_ifname(s: &str) -> bool {
    !s.is_empty()
        && s.len() < 16
        && s != "."
        && s != ".."
        && !s.chars().any(|c| c == '/' || c == ':' || c.is_whitespace())
}

impl Env {
    /// Reads CNI_COMMAND (missing or unknown -> code 4).
    pub fn command(get: &impl Fn(&str) -> Option<String>) -> CniResultT<Command> {
        let c = get("CNI_COMMAND")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                CniError::new(
                    code::INVALID_ENV,
                    "required environment variable CNI_COMMAND is not set",
                )
            })?;
        Command::parse(&c)
            .ok_or_else(|| CniError::new(code::INVALID_ENV, format!("unknown CNI_COMMAND {c:?}")))
    }

    /// Reads and checks the environment of `command` (code 4 naming what is wrong).
    pub fn from_vars(command: Command, get: &impl Fn(&str) -> Option<String>) -> CniResultT<Env> {
        let var = |k: &str| get(k).unwrap_or_default();
        for k in command.required() {
            if var(k).is_empty() {
                return Err(CniError::new(
                    code::INVALID_ENV,
                    format!("required environment variable {k} is not set"),
                )
                .with_details(format!(
                    "{} needs {}",
                    command.as_str(),
                    command.required().join(", ")
                )));
            }
        }
        let env = Env {
            command,
            container_id: var("CNI_CONTAINERID"),
            netns: var("CNI_NETNS"),
            ifname: var("CNI_IFNAME"),
            path: var("CNI_PATH"),
            args: CniArgs::parse(&var("CNI_ARGS"))?,
        };
        if matches!(command, Command::Add | Command::Del | Command::Check) {
            if !valid_id(&env.container_id) {
                return Err(CniError::new(
                    code::INVALID_ENV,
                    format!(
                        "invalid characters in CNI_CONTAINERID {:?}",
                        env.container_id
                    ),
                ));
            }
            if !valid_ifname(&env.ifname) {
                return Err(CniError::new(
                    code::INVALID_ENV,
                    format!("invalid CNI_IFNAME {:?}", env.ifname),
                ));
            }
        }
        Ok(env)
    }

    /// (namespace, pod): from CNI_ARGS, else ("default", CNI_CONTAINERID) so plain calls work.
    pub fn pod(&self) -> (String, String) {
        let ns = self
            .args
            .pod_namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        let pod = self
            .args
            .pod_name
            .clone()
            .unwrap_or_else(|| self.container_id.clone());
        (ns, pod)
    }

    /// `<cluster>__<namespace>__<pod>`.
    pub fn vm_name(&self, cluster: &str) -> String {
        let (ns, pod) = self.pod();
        vrouter_port_api::vm_name(cluster, &ns, &pod)
    }
}

/// The host end of the veth: `tap` + (`<ifname>-<vm-uuid>`)[..11], as TF names it
/// (at most 14 bytes; cut on a character boundary).
pub fn host_ifname(ifname: &str, vm_uuid: &str) -> String {
    let s = format!("{ifname}-{vm_uuid}");
    let mut end = s.len().min(11);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("tap{}", &s[..end])
}

/// FNV-1a, 32 bits: a stable hash for derived names.
pub fn fnv32(parts: &[&[u8]]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for p in parts {
        for b in *p {
            h ^= u32::from(*b);
            h = h.wrapping_mul(0x0100_0193);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// A name for the container end while it is still in the host netns (unique enough:
/// derived from the container id, the pid and the time).
pub fn temp_peer_name(container_id: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let h = fnv32(&[
        container_id.as_bytes(),
        &std::process::id().to_le_bytes(),
        &nanos.to_le_bytes(),
    ]);
    format!("vcni{h:08x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn cni_args_parse() {
        let a = CniArgs::parse(
            "IgnoreUnknown=1;K8S_POD_NAMESPACE=kube-system;K8S_POD_NAME=coredns-1;K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=8a2b3c4d-0000",
        )
        .unwrap();
        assert_eq!(a.pod_namespace.as_deref(), Some("kube-system"));
        assert_eq!(a.pod_name.as_deref(), Some("coredns-1"));
        assert_eq!(a.infra_container_id.as_deref(), Some("abc"));
        assert_eq!(a.pod_uid.as_deref(), Some("8a2b3c4d-0000"));
        assert_eq!(CniArgs::parse("").unwrap(), CniArgs::default());
        assert_eq!(CniArgs::parse("Foo=bar;;").unwrap(), CniArgs::default());
        assert_eq!(CniArgs::parse("K8S_POD_NAME=").unwrap().pod_name, None);
        assert_eq!(
            CniArgs::parse("A=b;junk").unwrap_err().code,
            code::INVALID_ENV
        );
    }

    #[test]
    fn required_env_per_command() {
        let full = [
            ("CNI_CONTAINERID", "c1"),
            ("CNI_NETNS", "/var/run/netns/x"),
            ("CNI_IFNAME", "eth0"),
            ("CNI_PATH", "/opt/cni/bin"),
        ];
        for cmd in [Command::Add, Command::Check, Command::Del] {
            assert!(Env::from_vars(cmd, &vars(&full)).is_ok());
        }
        let e = Env::from_vars(Command::Add, &vars(&full[..1])).unwrap_err();
        assert_eq!(e.code, code::INVALID_ENV);
        assert!(e.msg.contains("CNI_NETNS"), "{e}");
        let e = Env::from_vars(Command::Check, &vars(&[full[0], full[1], full[3]])).unwrap_err();
        assert!(e.msg.contains("CNI_IFNAME"), "{e}");
        // DEL without a netns is fine; without a container id it is not.
        let del = Env::from_vars(Command::Del, &vars(&[full[0], full[2], full[3]])).unwrap();
        assert_eq!(del.netns, "");
        let e = Env::from_vars(Command::Del, &vars(&[full[2], full[3]])).unwrap_err();
        assert!(e.msg.contains("CNI_CONTAINERID"));
        assert!(Env::from_vars(Command::Status, &vars(&[full[3]])).is_ok());
        assert!(Env::from_vars(Command::Gc, &vars(&[]))
            .unwrap_err()
            .msg
            .contains("CNI_PATH"));
        assert!(Env::from_vars(Command::Version, &vars(&[])).is_ok());
        // Bad values.
        let bad_if = [full[0], full[1], ("CNI_IFNAME", "a/b"), full[3]];
        assert_eq!(
            Env::from_vars(Command::Add, &vars(&bad_if))
                .unwrap_err()
                .code,
            code::INVALID_ENV
        );
        let bad_id = [("CNI_CONTAINERID", "-x"), full[1], full[2], full[3]];
        assert_eq!(
            Env::from_vars(Command::Add, &vars(&bad_id))
                .unwrap_err()
                .code,
            code::INVALID_ENV
        );
    }

    #[test]
    fn command_parse() {
        assert_eq!(
            Env::command(&vars(&[("CNI_COMMAND", "ADD")])).unwrap(),
            Command::Add
        );
        assert_eq!(
            Env::command(&vars(&[("CNI_COMMAND", "GC")])).unwrap(),
            Command::Gc
        );
        let e = Env::command(&vars(&[])).unwrap_err();
        assert!(e.code == code::INVALID_ENV && e.msg.contains("CNI_COMMAND"));
        assert_eq!(
            Env::command(&vars(&[("CNI_COMMAND", "add")]))
                .unwrap_err()
                .code,
            code::INVALID_ENV
        );
    }

    #[test]
    fn vm_names() {
        let base = [
            ("CNI_CONTAINERID", "c1"),
            ("CNI_IFNAME", "eth0"),
            ("CNI_PATH", "/x"),
        ];
        let e = Env::from_vars(Command::Del, &vars(&base)).unwrap();
        assert_eq!(e.vm_name("k8s"), "k8s__default__c1");
        let mut with = base.to_vec();
        with.push((
            "CNI_ARGS",
            "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=web",
        ));
        let e = Env::from_vars(Command::Del, &vars(&with)).unwrap();
        assert_eq!(e.vm_name("c2"), "c2__ns1__web");
    }

    #[test]
    fn host_ifnames() {
        assert_eq!(host_ifname("eth0", "8a2b3c4d-1111-2222"), "tapeth0-8a2b3c");
        assert_eq!(host_ifname("eth0", "8a"), "tapeth0-8a");
        assert_eq!(host_ifname("net1longname", "8a2b"), "tapnet1longnam");
        assert!(host_ifname("éééééééé", "u").len() <= 14);
        assert!(valid_ifname(&host_ifname("eth0", "8a2b3c4d-1111-2222")));
        let t = temp_peer_name("c1");
        assert!(t.starts_with("vcni") && t.len() == 12 && valid_ifname(&t));
    }

    #[test]
    fn ifnames() {
        assert!(valid_ifname("eth0"));
        assert!(!valid_ifname(""));
        assert!(!valid_ifname("0123456789abcdef"));
        assert!(!valid_ifname(".."));
        assert!(!valid_ifname("a b"));
        assert!(!valid_ifname("a:b"));
    }
}
