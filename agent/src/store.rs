//! Persistence of ports: one JSON file per pod interface, `<state-dir>/ports/<vmi-uuid>.json`.
//!
//! Every write is atomic: the record goes to a temporary file that is fsynced, renamed over
//! the old one, and the directory is fsynced. A kill -9 at any moment leaves either the old
//! or the new record, never a torn one; leftover temporary files are removed at load.

use serde::{Deserialize, Serialize};
use std::fs;
use std::io::Write;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

/// The binding of a port to a host interface (`POST /vm`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Binding {
    pub vm_id: String,
    pub vm_ifname: String,
    pub host_ifname: String,
    pub vm_namespace: String,
    pub time: String,
}

/// One pod interface: what the agent reserved and what it must program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Port {
    pub vmi_uuid: String,
    pub vm_uuid: String,
    pub vm_name: String,
    pub network: String,
    pub vn_uuid: String,
    pub vrf: u32,
    pub mac: String,
    pub ipv4: Ipv4Addr,
    #[serde(default)]
    pub ipv6: Option<Ipv6Addr>,
    /// The Encap nexthop id (stable for the port's life).
    pub nh: u32,
    /// Seconds since the epoch when the reservation was made.
    pub created: u64,
    /// Which of the pod's interfaces: 0 is eth0, extra interfaces (attachments) count
    /// from 1.
    #[serde(default)]
    pub index: u32,
    /// An extra interface's name in the pod (net<i> unless the pod named it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    /// The NetworkAttachmentDefinition ("<namespace>/<name>") an extra interface is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<String>,
    #[serde(default)]
    pub binding: Option<Binding>,
}

pub struct Store {
    dir: PathBuf,
}

#[derive(Debug, thiserror::Error)]
#[error("{path}: {err}")]
pub struct StoreError {
    pub path: String,
    pub err: String,
}

fn io_err(path: &Path, err: impl std::fmt::Display) -> StoreError {
    StoreError {
        path: path.display().to_string(),
        err: err.to_string(),
    }
}

impl Store {
    /// Opens (creating) `<state_dir>/ports`.
    pub fn open(state_dir: &Path) -> Result<Store, StoreError> {
        let dir = state_dir.join("ports");
        fs::create_dir_all(&dir).map_err(|e| io_err(&dir, e))?;
        Ok(Store { dir })
    }

    fn path(&self, vmi: &str) -> PathBuf {
        self.dir.join(format!("{vmi}.json"))
    }

    /// Every stored port. A file that cannot be parsed is moved aside to `*.bad` (and
    /// reported), never deleted: a human decides what it was.
    pub fn load(&self) -> Result<(Vec<Port>, Vec<String>), StoreError> {
        let mut ports = Vec::new();
        let mut problems = Vec::new();
        let entries = fs::read_dir(&self.dir).map_err(|e| io_err(&self.dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| io_err(&self.dir, e))?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".tmp") {
                let _ = fs::remove_file(&path);
                continue;
            }
            if !name.ends_with(".json") {
                continue;
            }
            let parsed = fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice::<Port>(&b).map_err(|e| e.to_string()));
            match parsed {
                Ok(p) if self.path(&p.vmi_uuid) == path => ports.push(p),
                Ok(p) => problems.push(format!(
                    "{name}: holds port {} (file name mismatch), ignored",
                    p.vmi_uuid
                )),
                Err(e) => {
                    let aside = path.with_extension("bad");
                    let _ = fs::rename(&path, &aside);
                    problems.push(format!("{name}: {e}; moved to {}", aside.display()));
                }
            }
        }
        ports.sort_by(|a, b| (a.created, &a.vmi_uuid).cmp(&(b.created, &b.vmi_uuid)));
        Ok((ports, problems))
    }

    /// Writes the port atomically; when this returns Ok the record survives any crash.
    pub fn save(&self, port: &Port) -> Result<(), StoreError> {
        let path = self.path(&port.vmi_uuid);
        let tmp = path.with_extension("json.tmp");
        let body = serde_json::to_vec_pretty(port).map_err(|e| io_err(&path, e))?;
        let write = || -> std::io::Result<()> {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(&body)?;
            f.sync_all()?;
            fs::rename(&tmp, &path)?;
            fs::File::open(&self.dir)?.sync_all()
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            io_err(&path, e)
        })
    }

    pub fn remove(&self, vmi: &str) -> Result<(), StoreError> {
        let path = self.path(vmi);
        match fs::remove_file(&path) {
            Ok(()) => fs::File::open(&self.dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| io_err(&self.dir, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(&path, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(vmi: &str, last: u8) -> Port {
        Port {
            vmi_uuid: vmi.into(),
            vm_uuid: "pod-uid".into(),
            vm_name: "k8s__default__p".into(),
            network: "net".into(),
            vn_uuid: "vn".into(),
            vrf: 1,
            mac: "02:00:0a:20:00:02".into(),
            ipv4: Ipv4Addr::new(10, 32, 0, last),
            ipv6: None,
            nh: 100,
            created: u64::from(last),
            index: 0,
            interface: None,
            attachment: None,
            binding: None,
        }
    }

    #[test]
    fn save_load_remove_round_trip() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        let mut a = port("a", 2);
        s.save(&a).unwrap();
        s.save(&port("b", 3)).unwrap();
        a.binding = Some(Binding {
            vm_id: "c1".into(),
            vm_ifname: "eth0".into(),
            host_ifname: "tapeth0-x".into(),
            vm_namespace: "/run/netns/x".into(),
            time: "t".into(),
        });
        s.save(&a).unwrap();
        let (ports, problems) = s.load().unwrap();
        assert!(problems.is_empty());
        assert_eq!(ports, vec![a.clone(), port("b", 3)]);
        s.remove("b").unwrap();
        s.remove("b").unwrap();
        assert_eq!(s.load().unwrap().0, vec![a]);
    }

    #[test]
    fn torn_and_temporary_files_are_never_loaded_as_ports() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        s.save(&port("a", 2)).unwrap();
        fs::write(d.path().join("ports/x.json.tmp"), b"{\"vmi-uu").unwrap();
        fs::write(d.path().join("ports/y.json"), b"{\"vmi-uu").unwrap();
        let (ports, problems) = s.load().unwrap();
        assert_eq!(ports.len(), 1);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(!d.path().join("ports/x.json.tmp").exists());
        assert!(d.path().join("ports/y.bad").exists());
    }
}
