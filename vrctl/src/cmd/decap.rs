//! What `vrctl mpls` and `vrctl vxlan` share: both show and change a decapsulation table
//! (label or VNI -> nexthop) with the same four operations; only their names and TF's
//! layouts differ (mpls.rs, vxlan.rs).

use super::{json, num_arg, usage};
use crate::Failure;
use vrouter_client::{Client, DecapTable};

/// The operation the arguments ask for, checked before the kernel is asked.
pub(crate) enum Op {
    Dump,
    Get(u32),
    Create { index: u32, nh: u32 },
    Delete(u32),
}

/// The arguments both commands take. `what` names the index ("label", "VNI").
pub(crate) struct Ask<'a> {
    pub what: &'a str,
    pub dump: bool,
    pub get: Option<&'a str>,
    pub create: Option<&'a str>,
    pub delete: Option<&'a str>,
    pub nh: Option<&'a str>,
}

impl Ask<'_> {
    pub(crate) fn op(&self) -> Result<Op, Failure> {
        let index = |s: Option<&str>| s.map(|s| num_arg(self.what, s)).transpose();
        let (get, create, delete) = (index(self.get)?, index(self.create)?, index(self.delete)?);
        let nh = self.nh.map(|s| num_arg("nexthop", s)).transpose()?;
        match (create, nh) {
            (None, Some(_)) => Err(usage("--nh goes with --create")),
            (Some(_), None) => Err(usage("--create needs --nh")),
            (Some(index), Some(nh)) => Ok(Op::Create { index, nh }),
            (None, None) => match (self.dump, get, delete) {
                (true, _, _) => Ok(Op::Dump),
                (_, Some(i), _) => Ok(Op::Get(i)),
                (_, _, Some(i)) => Ok(Op::Delete(i)),
                _ => Err(usage("one of --dump, --get, --create, --delete")),
            },
        }
    }
}

/// Carries out `op` on table `T`; `table` renders entries in TF's layout.
pub(crate) fn run<T: DecapTable>(
    op: Op,
    as_json: bool,
    table: fn(&[T]) -> String,
) -> Result<String, Failure> {
    let mut c = Client::connect()?;
    let show = |entries: &[T]| {
        if as_json {
            json(entries)
        } else {
            table(entries)
        }
    };
    Ok(match op {
        Op::Dump => show(&c.decap_dump::<T>()?),
        Op::Get(i) => {
            let e = c.decap_get::<T>(i)?;
            if as_json {
                json(&e)
            } else {
                table(&[e])
            }
        }
        Op::Create { index, nh } => {
            let e = c.decap_add::<T>(index, nh)?;
            if as_json {
                json(&e)
            } else {
                String::new()
            }
        }
        Op::Delete(i) => {
            c.decap_del::<T>(i)?;
            String::new()
        }
    })
}
