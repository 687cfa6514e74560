//! Entering a network namespace.
//!
//! A netlink socket belongs to the netns it was created in, and a thread's netns is its
//! own (setns(2) with CLONE_NEWNET is per thread). So work inside the container's netns
//! runs on a dedicated thread that enters it first, then opens its rtnetlink socket and
//! runs a current-thread tokio runtime; the thread ends with the work, so nothing else
//! ever runs in the wrong netns. /proc/sys/net written from that thread is the netns's.

use crate::spec::{code, CniError, CniResultT};
use rtnetlink::Handle;
use std::fs::File;
use std::future::Future;
use std::os::fd::{AsRawFd, RawFd};
use tracing::debug;

/// An opened netns (the fd keeps it alive while we use it).
pub struct Netns {
    file: File,
    pub path: String,
}

impl Netns {
    /// Opens the netns file (e.g. /var/run/netns/x, /proc/<pid>/ns/net). Code 101 when it
    /// cannot be opened; `Ok(None)` from [`Netns::open_if_exists`] when it is gone.
    pub fn open(path: &str) -> CniResultT<Netns> {
        let file = File::open(path).map_err(|e| {
            CniError::new(code::NETNS, format!("failed to open netns {path:?}"))
                .with_details(e.to_string())
        })?;
        Ok(Netns {
            file,
            path: path.to_string(),
        })
    }

    /// For DEL: a missing (or empty) path is not an error.
    pub fn open_if_exists(path: &str) -> CniResultT<Option<Netns>> {
        if path.is_empty() {
            return Ok(None);
        }
        match File::open(path) {
            Ok(file) => Ok(Some(Netns {
                file,
                path: path.to_string(),
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(
                CniError::new(code::NETNS, format!("failed to open netns {path:?}"))
                    .with_details(e.to_string()),
            ),
        }
    }

    pub fn fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    /// Runs `f` inside the netns with an rtnetlink handle whose socket is in the netns.
    pub fn rtnl<T, F, Fut>(&self, f: F) -> CniResultT<T>
    where
        T: Send,
        F: FnOnce(Handle) -> Fut + Send,
        Fut: Future<Output = CniResultT<T>>,
    {
        let fd = self.fd();
        let path = self.path.as_str();
        std::thread::scope(|s| {
            let worker = s.spawn(move || {
                // SAFETY: setns(2) on a file descriptor we own, for this thread only.
                let rc = unsafe { libc::setns(fd, libc::CLONE_NEWNET) };
                if rc != 0 {
                    let e = std::io::Error::last_os_error();
                    return Err(CniError::new(
                        code::NETNS,
                        format!("failed to enter netns {path:?}"),
                    )
                    .with_details(e.to_string()));
                }
                debug!(netns = path, "entered netns");
                run_rtnl(f)
            });
            worker.join().unwrap_or_else(|_| {
                Err(CniError::new(
                    code::NETNS,
                    format!("the thread working in netns {path:?} panicked"),
                ))
            })
        })
    }
}

/// Runs `f` with an rtnetlink handle in the current thread's netns (the host's, when
/// called from the main thread).
pub fn run_rtnl<T, F, Fut>(f: F) -> CniResultT<T>
where
    F: FnOnce(Handle) -> Fut,
    Fut: Future<Output = CniResultT<T>>,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .map_err(|e| {
            CniError::new(code::IO, "failed to start the netlink runtime")
                .with_details(e.to_string())
        })?;
    rt.block_on(async move {
        let (conn, handle, _) = rtnetlink::new_connection().map_err(|e| {
            CniError::new(code::NETLINK, "failed to open an rtnetlink socket")
                .with_details(e.to_string())
        })?;
        let task = tokio::spawn(conn);
        let out = f(handle).await;
        task.abort();
        out
    })
}

/// Writes a sysctl (`net/ipv6/conf/eth0/accept_dad`) of the current thread's netns.
pub fn write_sysctl(key: &str, value: &str) -> std::io::Result<()> {
    std::fs::write(format!("/proc/sys/{key}"), value)
}
