use std::fmt;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The kernel refused the request; `msg` is its extended-ACK text when it gave one.
    #[error("{}", kernel_text(*errno, msg.as_deref()))]
    Kernel { errno: i32, msg: Option<String> },
    #[error("the vrouter kernel module is not loaded (no generic netlink family \"vrouter\")")]
    NotLoaded,
    #[error("netlink socket: {0}")]
    Io(#[from] std::io::Error),
    #[error("malformed reply from the kernel: {0}")]
    Decode(String),
    /// A batched request whose acknowledgement never arrived (receive buffer overrun,
    /// ENOBUFS): the kernel may or may not have applied it.
    #[error("acknowledgement lost ({why}); the request may or may not have been applied")]
    AckLost { why: &'static str },
    /// A batched request that was never sent because an earlier write of the batch failed.
    #[error("not sent: an earlier write of the batch failed")]
    NotSent,
    /// Multicast notifications were dropped because the listener's receive queue was
    /// full (ENOBUFS): re-read the table (a dump) to catch up.
    #[error("notifications were lost: the receive queue overflowed (ENOBUFS)")]
    Overrun,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Kernel { errno, .. } => Some(*errno),
            _ => None,
        }
    }
}

fn kernel_text(errno: i32, msg: Option<&str>) -> String {
    let name = errno_name(errno);
    match msg {
        Some(m) => format!("{m} ({name})"),
        None => format!("{} ({name})", std::io::Error::from_raw_os_error(errno)),
    }
}

/// The symbolic name of an errno value (EINVAL, ...).
pub fn errno_name(errno: i32) -> ErrnoName {
    ErrnoName(errno)
}

pub struct ErrnoName(i32);

impl fmt::Display for ErrnoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self.0 {
            libc_consts::EPERM => "EPERM",
            libc_consts::ENOENT => "ENOENT",
            libc_consts::ENOMEM => "ENOMEM",
            libc_consts::EACCES => "EACCES",
            libc_consts::EBUSY => "EBUSY",
            libc_consts::EEXIST => "EEXIST",
            libc_consts::ENODEV => "ENODEV",
            libc_consts::EINVAL => "EINVAL",
            libc_consts::ENOSPC => "ENOSPC",
            libc_consts::ERANGE => "ERANGE",
            libc_consts::EMSGSIZE => "EMSGSIZE",
            libc_consts::EOPNOTSUPP => "EOPNOTSUPP",
            libc_consts::EAGAIN => "EAGAIN",
            libc_consts::ENOBUFS => "ENOBUFS",
            n => return write!(f, "errno {n}"),
        };
        f.write_str(s)
    }
}

/// Linux errno values (stable ABI).
pub mod libc_consts {
    pub const EPERM: i32 = 1;
    pub const ENOENT: i32 = 2;
    pub const ENOMEM: i32 = 12;
    pub const EACCES: i32 = 13;
    pub const EBUSY: i32 = 16;
    pub const EEXIST: i32 = 17;
    pub const ENODEV: i32 = 19;
    pub const EINVAL: i32 = 22;
    pub const ENOSPC: i32 = 28;
    pub const ERANGE: i32 = 34;
    pub const EMSGSIZE: i32 = 90;
    pub const EOPNOTSUPP: i32 = 95;
    pub const EAGAIN: i32 = 11;
    pub const ENOBUFS: i32 = 105;
}
