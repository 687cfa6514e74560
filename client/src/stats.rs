//! Counters and module information: DROPSTATS_GET / DROPSTATS_CLEAR, VRF_STATS_GET
//! (+dump), INFO_GET.

use crate::error::{Error, Result};
use crate::message::{Attrs, VrMessage};
use crate::socket::Client;
use serde::Serialize;
use vrouter_uapi::{cmd, drop_stats_attr as D, info_attr as I, vrf_stats_attr as V};

/// Counters of one VRF, indexed by `vrf-stat` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VrfStats {
    pub vrf: u32,
    pub counters: Vec<u64>,
}

impl VrfStats {
    pub fn from_attrs(a: &Attrs) -> Result<VrfStats> {
        Ok(VrfStats {
            vrf: a
                .u32(V::VRF)
                .ok_or_else(|| Error::Decode("vrf stats without vrf".into()))?,
            counters: counters(a, V::COUNTERS)?,
        })
    }

    /// Counter `i` (0 when the kernel sent fewer).
    pub fn get(&self, i: u32) -> u64 {
        self.counters.get(i as usize).copied().unwrap_or(0)
    }
}

/// Drop counters indexed by `drop-reason` value, from a DROPSTATS_GET reply.
pub fn drop_counters(a: &Attrs) -> Result<Vec<u64>> {
    counters(a, D::COUNTERS)
}

fn counters(a: &Attrs, id: u16) -> Result<Vec<u64>> {
    match a.get(id) {
        None => Err(Error::Decode("reply without counters".into())),
        Some(_) => a
            .u64_array(id)
            .ok_or_else(|| Error::Decode("counters not a u64 array".into())),
    }
}

/// Module version, limits and usage (`vrouter --info`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Info {
    pub version: String,
    pub interfaces: u32,
    pub vrfs: u32,
    pub nexthops: u32,
    pub routes: u32,
    pub rt_buckets: u32,
    pub vifs_used: u32,
    pub nexthops_used: u32,
    pub routes_v4: u32,
    pub routes_v6: u32,
    pub rt_buckets_used: u32,
    pub cpus: u32,
    pub rt_inconsistent: u32,
    pub mpls_labels: u32,
    pub mpls_labels_used: u32,
    pub vxlan_vnis_used: u32,
}

impl Info {
    pub fn from_attrs(a: &Attrs) -> Result<Info> {
        let n = |id: u16| a.u32(id).unwrap_or(0);
        Ok(Info {
            version: a
                .string(I::VERSION)
                .ok_or_else(|| Error::Decode("info without version".into()))?,
            interfaces: n(I::INTERFACES),
            vrfs: n(I::VRFS),
            nexthops: n(I::NEXTHOPS),
            routes: n(I::ROUTES),
            rt_buckets: n(I::RT_BUCKETS),
            vifs_used: n(I::VIFS_USED),
            nexthops_used: n(I::NEXTHOPS_USED),
            routes_v4: n(I::ROUTES_V4),
            routes_v6: n(I::ROUTES_V6),
            rt_buckets_used: n(I::RT_BUCKETS_USED),
            rt_inconsistent: n(I::RT_INCONSISTENT),
            cpus: n(I::CPUS),
            mpls_labels: n(I::MPLS_LABELS),
            mpls_labels_used: n(I::MPLS_LABELS_USED),
            vxlan_vnis_used: n(I::VXLAN_VNIS_USED),
        })
    }
}

fn one(mut replies: Vec<VrMessage>) -> Result<VrMessage> {
    replies
        .pop()
        .ok_or_else(|| Error::Decode("no reply".into()))
}

/// CORE attributes carry cpu + 1; absent means the sum over CPUs.
fn push_core(m: &mut VrMessage, id: u16, core: Option<u32>) {
    if let Some(c) = core {
        m.attrs.push_u32(id, c.saturating_add(1));
    }
}

impl Client {
    /// Drop counters (index = `drop-reason` value), summed over CPUs or of CPU `core`.
    pub fn drop_stats(&mut self, core: Option<u32>) -> Result<Vec<u64>> {
        let mut m = VrMessage::new(cmd::DROPSTATS_GET);
        push_core(&mut m, D::CORE, core);
        drop_counters(&one(self.request(m, false)?)?.attrs)
    }

    /// Resets the drop counters of every CPU (CAP_NET_ADMIN).
    pub fn drop_stats_clear(&mut self) -> Result<()> {
        self.request(VrMessage::new(cmd::DROPSTATS_CLEAR), false)
            .map(|_| ())
    }

    pub fn vrf_stats(&mut self, vrf: u32, core: Option<u32>) -> Result<VrfStats> {
        let mut m = VrMessage::new(cmd::VRF_STATS_GET);
        m.attrs.push_u32(V::VRF, vrf);
        push_core(&mut m, V::CORE, core);
        VrfStats::from_attrs(&one(self.request(m, false)?)?.attrs)
    }

    /// Every VRF with routes or non-zero counters, by VRF.
    pub fn vrf_stats_dump(&mut self, core: Option<u32>) -> Result<Vec<VrfStats>> {
        let mut m = VrMessage::new(cmd::VRF_STATS_GET);
        push_core(&mut m, V::CORE, core);
        let mut v: Vec<VrfStats> = self
            .request(m, true)?
            .iter()
            .map(|r| VrfStats::from_attrs(&r.attrs))
            .collect::<Result<_>>()?;
        v.sort_by_key(|s| s.vrf);
        Ok(v)
    }

    pub fn info(&mut self) -> Result<Info> {
        Info::from_attrs(&one(self.request(VrMessage::new(cmd::INFO_GET), false)?)?.attrs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{AttrSink, RawAttrs};
    use vrouter_uapi::{drop_reason, DROP_REASONS, VRF_STATS};

    fn u64s(v: &[u64]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_ne_bytes()).collect()
    }

    #[test]
    fn drop_counters_decode_by_reason() {
        let mut c = vec![0u64; DROP_REASONS];
        c[drop_reason::TTL_EXCEEDED as usize] = 2;
        c[drop_reason::DISCARD as usize] = 1 << 40;
        let mut buf = Vec::new();
        let mut w = RawAttrs(&mut buf);
        w.put(D::COUNTERS, &u64s(&c));
        w.put_u32(D::CPUS, 4);
        let got = drop_counters(&Attrs::parse(&buf).unwrap()).unwrap();
        assert_eq!(got, c);
        assert!(drop_counters(&Attrs::default()).is_err());
        let mut bad = Attrs::default();
        bad.push_bytes(D::COUNTERS, &[1, 2, 3]);
        assert!(drop_counters(&bad).is_err());
    }

    #[test]
    fn vrf_stats_decode() {
        let c: Vec<u64> = (0..VRF_STATS as u64).collect();
        let mut buf = Vec::new();
        let mut w = RawAttrs(&mut buf);
        w.put_u32(V::VRF, 7);
        w.put_u32(V::CORE, 2);
        w.put(V::COUNTERS, &u64s(&c));
        let s = VrfStats::from_attrs(&Attrs::parse(&buf).unwrap()).unwrap();
        assert_eq!(s.vrf, 7);
        assert_eq!(s.counters, c);
        assert_eq!(s.get(25), 25);
        assert_eq!(s.get(99), 0);
    }

    #[test]
    fn info_decode() {
        let mut buf = Vec::new();
        let mut w = RawAttrs(&mut buf);
        w.put(I::VERSION, b"0.1.0\0");
        for (id, v) in [
            (I::INTERFACES, 4352),
            (I::ROUTES_V4, 20000),
            (I::ROUTES_V6, 1),
            (I::CPUS, 4),
        ] {
            w.put_u32(id, v);
        }
        let i = Info::from_attrs(&Attrs::parse(&buf).unwrap()).unwrap();
        assert_eq!(
            (
                i.version.as_str(),
                i.interfaces,
                i.routes_v4,
                i.routes_v6,
                i.cpus
            ),
            ("0.1.0", 4352, 20000, 1, 4)
        );
        assert_eq!(i.nexthops, 0);
    }

    #[test]
    fn core_is_sent_plus_one() {
        let mut m = VrMessage::new(cmd::DROPSTATS_GET);
        push_core(&mut m, D::CORE, Some(0));
        assert_eq!(m.attrs.u32(D::CORE), Some(1));
        let mut m = VrMessage::new(cmd::DROPSTATS_GET);
        push_core(&mut m, D::CORE, None);
        assert_eq!(m.attrs.get(D::CORE), None);
    }
}
