//! Batches (routes, flows): many requests concatenated in one buffer and sent with one
//! `sendmsg`, each with NLM_F_ACK and its own sequence number; the acks (and the replies of
//! requests that have one, e.g. FLOW_NEW) are collected with `recvmmsg` and matched to
//! their request by sequence number, so a batch costs a handful of system calls whatever
//! its size.
//!
//! The kernel handles a netlink write synchronously, in the writer's context: when `send`
//! returns, every ack of the batch is queued on the socket, or was dropped because the
//! receive buffer was full, which the socket reports as ENOBUFS. The receive buffer is
//! therefore sized for a whole batch of acks, batches are capped to what fits, and acks
//! that still go missing are reported per request (`Error::AckLost`), never hidden.

use crate::error::{libc_consts::ENOBUFS, Error, Result};
use crate::message::RawAttrs;
use crate::rt::RouteOp;
use crate::socket::{extack_message, messages, Client};
use netlink_packet_core::{NLM_F_ACK, NLM_F_REQUEST};
use netlink_sys::Socket;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use vrouter_uapi::FAMILY_VERSION;

const NLMSG_ERROR: u16 = 2;
/// Estimated receive-buffer charge of one queued ack (its skb's truesize): a small message
/// in a kmalloc'ed head plus `sk_buff` and `skb_shared_info`. Measured at 832 bytes on
/// Linux 6.18 for acks with or without extack text; rounded up for margin.
pub(crate) const ACK_COST: usize = 1024;
/// Upper bound of one encoded route request (IPv6 with label and MAC is 108 bytes).
const MSG_MAX: usize = 128;
/// recvmmsg slots per call and bytes per slot (an error ack with extack is ~200 bytes).
const SLOTS: usize = 256;
const SLOT: usize = 1024;
/// How long to wait for acks that neither arrived nor were reported lost.
const ACK_TIMEOUT_MS: i32 = 10_000;

/// Default number of requests per batch.
pub const DEFAULT_BATCH: usize = 256;

/// One request of a batch that failed.
#[derive(Debug)]
pub struct OpFailure {
    /// Position of the request in the batch's input (0-based).
    pub index: usize,
    pub error: Error,
}

#[derive(Debug, Default)]
pub struct BatchReport {
    /// Requests the kernel acknowledged without error.
    pub ok: usize,
    /// Failed requests, in input order within each batch.
    pub failed: Vec<OpFailure>,
    /// Set when a batch could not be sent at all: the index of its first request (neither
    /// it nor anything after it was sent) and the error.
    pub aborted: Option<(usize, Error)>,
}

/// Appends one generic netlink request to `buf`: nlmsghdr, genlmsghdr, attributes.
pub(crate) fn frame(
    buf: &mut Vec<u8>,
    family: u16,
    flags: u16,
    seq: u32,
    cmd: u8,
    body: impl FnOnce(&mut RawAttrs<'_>),
) {
    let start = buf.len();
    buf.extend_from_slice(&0u32.to_ne_bytes()); // length, patched below
    buf.extend_from_slice(&family.to_ne_bytes());
    buf.extend_from_slice(&flags.to_ne_bytes());
    buf.extend_from_slice(&seq.to_ne_bytes());
    buf.extend_from_slice(&0u32.to_ne_bytes()); // port id: filled in by the kernel
    buf.extend_from_slice(&[cmd, FAMILY_VERSION, 0, 0]);
    body(&mut RawAttrs(buf));
    let len = (buf.len() - start) as u32;
    buf[start..start + 4].copy_from_slice(&len.to_ne_bytes());
}

/// A request that can travel in a batch.
pub(crate) trait Framed {
    /// Upper bound of one encoded request, in bytes.
    const MSG_MAX: usize = MSG_MAX;
    /// Receive-buffer charge of what the kernel answers: the ack, plus the reply for
    /// requests that have one.
    const RX_COST: usize = ACK_COST;

    /// Appends the request with NLM_F_ACK and sequence number `seq`.
    fn frame(&self, buf: &mut Vec<u8>, family: u16, seq: u32);
}

impl<T: Framed> Framed for &T {
    const MSG_MAX: usize = T::MSG_MAX;
    const RX_COST: usize = T::RX_COST;

    fn frame(&self, buf: &mut Vec<u8>, family: u16, seq: u32) {
        (*self).frame(buf, family, seq)
    }
}

impl Framed for RouteOp {
    fn frame(&self, buf: &mut Vec<u8>, family: u16, seq: u32) {
        frame(
            buf,
            family,
            NLM_F_REQUEST | NLM_F_ACK,
            seq,
            self.cmd(),
            |a| self.encode(a),
        );
    }
}

/// Tries `force` (ignores the sysctl limit, needs CAP_NET_ADMIN), then `plain`; returns the
/// size the socket ended up with (as getsockopt reports it: twice the request).
pub(crate) fn grow_buffer(
    sock: &Socket,
    force: libc::c_int,
    plain: libc::c_int,
    bytes: usize,
) -> usize {
    let fd = sock.as_raw_fd();
    let want = bytes.min(i32::MAX as usize / 2) as libc::c_int;
    if get_int(fd, plain).is_ok_and(|cur| cur >= 2 * want as usize) {
        return 2 * want as usize;
    }
    if set_int(fd, force, want).is_err() {
        let _ = set_int(fd, plain, want);
    }
    get_int(fd, plain).unwrap_or(0)
}

pub(crate) fn set_int(fd: RawFd, name: libc::c_int, v: libc::c_int) -> io::Result<()> {
    // SAFETY: `v` outlives the call and the length passed is its size.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            name,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

pub(crate) fn get_int(fd: RawFd, name: libc::c_int) -> io::Result<usize> {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `v` and `len` are valid for writes and `len` holds the size of `v`.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            name,
            (&mut v as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(v.max(0) as usize)
    }
}

/// Receive slots for recvmmsg, reused across batches.
#[derive(Default)]
pub(crate) struct AckReader {
    bufs: Vec<u8>,
    lens: Vec<usize>,
}

impl AckReader {
    /// Receives up to `max` (at most SLOTS) datagrams without blocking; Ok(0) when none
    /// is queued. The slots grow to the largest `max` seen and are reused after that.
    fn recv(&mut self, fd: RawFd, max: usize) -> io::Result<usize> {
        let slots = max.clamp(1, SLOTS);
        if self.lens.len() < slots {
            self.bufs.resize(slots * SLOT, 0);
            self.lens.resize(slots, 0);
        }
        let mut iov: Vec<libc::iovec> = self
            .bufs
            .chunks_mut(SLOT)
            .take(slots)
            .map(|c| libc::iovec {
                iov_base: c.as_mut_ptr().cast(),
                iov_len: c.len(),
            })
            .collect();
        let mut hdrs: Vec<libc::mmsghdr> = iov
            .iter_mut()
            .map(|v| {
                // SAFETY: mmsghdr is plain data; all-zero is a valid (empty) value.
                let mut h: libc::mmsghdr = unsafe { std::mem::zeroed() };
                h.msg_hdr.msg_iov = v;
                h.msg_hdr.msg_iovlen = 1;
                h
            })
            .collect();
        loop {
            // SAFETY: `hdrs` points at `iov`, which points into `self.bufs`; all of them
            // stay alive and unaliased for the duration of the call.
            let n = unsafe {
                libc::recvmmsg(
                    fd,
                    hdrs.as_mut_ptr(),
                    hdrs.len() as libc::c_uint,
                    libc::MSG_DONTWAIT,
                    std::ptr::null_mut(),
                )
            };
            if n >= 0 {
                for (l, h) in self.lens.iter_mut().zip(&hdrs).take(n as usize) {
                    *l = h.msg_len as usize;
                }
                return Ok(n as usize);
            }
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::EAGAIN) => return Ok(0),
                _ => return Err(e),
            }
        }
    }

    fn datagram(&self, i: usize) -> &[u8] {
        &self.bufs[i * SLOT..i * SLOT + self.lens[i].min(SLOT)]
    }
}

/// Where the replies of a batch go.
struct Sink<'a> {
    family: u16,
    on_reply: &'a mut dyn FnMut(usize, &[u8]),
}

/// The acks of one batch in flight: requests `first_seq..first_seq + n`, which are inputs
/// `first_index..first_index + n`.
pub(crate) struct Pending {
    pub first_seq: u32,
    pub first_index: usize,
    pub acked: Vec<bool>,
    pub missing: usize,
}

impl Pending {
    pub(crate) fn new(first_seq: u32, first_index: usize, n: usize) -> Pending {
        Pending {
            first_seq,
            first_index,
            acked: vec![false; n],
            missing: n,
        }
    }

    /// Accounts for the acks in one received datagram; replies of `family` (which come
    /// before their request's ack) go to `on_reply` with their input index and their
    /// payload after the netlink header.
    pub(crate) fn take(
        &mut self,
        datagram: &[u8],
        family: u16,
        report: &mut BatchReport,
        on_reply: &mut dyn FnMut(usize, &[u8]),
    ) {
        for m in messages(datagram) {
            let i = m.seq.wrapping_sub(self.first_seq) as usize;
            if i >= self.acked.len() || self.acked[i] {
                continue; // not one of ours (or a duplicate)
            }
            if m.kind == family {
                on_reply(self.first_index + i, m.payload);
                continue;
            }
            if m.kind != NLMSG_ERROR || m.payload.len() < 4 {
                continue;
            }
            self.acked[i] = true;
            self.missing -= 1;
            let code = i32::from_ne_bytes([m.payload[0], m.payload[1], m.payload[2], m.payload[3]]);
            if code == 0 {
                report.ok += 1;
            } else {
                let error = Error::Kernel {
                    errno: -code,
                    msg: extack_message(m.flags, &m.payload[4..]),
                };
                report.failed.push(OpFailure {
                    index: self.first_index + i,
                    error,
                });
            }
        }
    }

    /// Reports every request whose ack never came.
    pub(crate) fn give_up(&mut self, why: &'static str, report: &mut BatchReport) {
        for (i, a) in self.acked.iter_mut().enumerate() {
            if !*a {
                *a = true;
                report.failed.push(OpFailure {
                    index: self.first_index + i,
                    error: Error::AckLost { why },
                });
            }
        }
        self.missing = 0;
    }
}

pub(crate) fn wait_readable(fd: RawFd, timeout_ms: i32) -> io::Result<bool> {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut p, 1, timeout_ms) };
        if r >= 0 {
            return Ok(r > 0);
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
}

impl Client {
    /// Sizes the socket buffers for batches of `want` requests of at most `msg_max` bytes
    /// whose answers cost `rx_cost` each; returns the number of requests per batch that
    /// fits (answers in the receive buffer) and the most bytes one write may carry.
    fn size_batches(&mut self, want: usize, msg_max: usize, rx_cost: usize) -> (usize, usize) {
        let want = want.max(1);
        let (rcv, snd) = match self.batch_bufs {
            Some((r, s)) if r >= want * rx_cost && s >= want * msg_max + 4096 => (r, s),
            _ => {
                let r = grow_buffer(
                    &self.sock,
                    libc::SO_RCVBUFFORCE,
                    libc::SO_RCVBUF,
                    want * rx_cost,
                );
                let s = grow_buffer(
                    &self.sock,
                    libc::SO_SNDBUFFORCE,
                    libc::SO_SNDBUF,
                    want * msg_max + 4096,
                );
                self.batch_bufs = Some((r, s));
                (r, s)
            }
        };
        // netlink refuses a write longer than sk_sndbuf - 32
        let max_bytes = snd.saturating_sub(64).max(msg_max);
        (want.min((rcv / rx_cost).max(1)), max_bytes)
    }

    /// Sends route additions and deletions in batches of at most `batch` requests (fewer
    /// if the socket's buffers are smaller): one write per batch, then that batch's acks.
    /// Every request is acknowledged individually; failures are collected with their
    /// input index and the kernel's message, and the remaining requests still go out.
    pub fn rt_batch<I: IntoIterator<Item = RouteOp>>(
        &mut self,
        ops: I,
        batch: usize,
    ) -> Result<BatchReport> {
        let family = self.family_id;
        self.batch(ops, batch, family)
    }

    pub(crate) fn batch<T: Framed, I: IntoIterator<Item = T>>(
        &mut self,
        ops: I,
        batch: usize,
        family: u16,
    ) -> Result<BatchReport> {
        self.batch_with(ops, batch, family, &mut |_, _| {})
    }

    /// [`Client::batch`] that also hands every reply (a message of `family` answering one
    /// of the requests) to `on_reply`, with the request's input index.
    pub(crate) fn batch_with<T: Framed, I: IntoIterator<Item = T>>(
        &mut self,
        ops: I,
        batch: usize,
        family: u16,
        on_reply: &mut dyn FnMut(usize, &[u8]),
    ) -> Result<BatchReport> {
        let mut reader = std::mem::take(&mut self.acks);
        let report = self.batch_in(ops, batch, family, on_reply, &mut reader);
        self.acks = reader;
        report
    }

    fn batch_in<T: Framed, I: IntoIterator<Item = T>>(
        &mut self,
        ops: I,
        batch: usize,
        family: u16,
        on_reply: &mut dyn FnMut(usize, &[u8]),
        reader: &mut AckReader,
    ) -> Result<BatchReport> {
        let (mut per, max_bytes) = self.size_batches(batch, T::MSG_MAX, T::RX_COST);
        let mut report = BatchReport::default();
        let mut buf =
            Vec::with_capacity(per.saturating_mul(T::MSG_MAX).min(max_bytes) + T::MSG_MAX);
        let mut sink = Sink { family, on_reply };
        let (mut first_index, mut first_seq, mut n) = (0usize, 0u32, 0usize);
        for (i, op) in ops.into_iter().enumerate() {
            let seq = self.next_seq();
            if n == 0 {
                first_index = i;
                first_seq = seq;
            } else if seq != first_seq.wrapping_add(n as u32) {
                // the sequence wrapped past 0 (skipped): close the batch before this request
                if let Err(e) = self.flush(
                    &buf,
                    Pending::new(first_seq, first_index, n),
                    reader,
                    &mut sink,
                    &mut report,
                    &mut per,
                ) {
                    report.aborted = Some((first_index, e));
                    return Ok(report);
                }
                buf.clear();
                first_index = i;
                first_seq = seq;
                n = 0;
            }
            op.frame(&mut buf, family, seq);
            n += 1;
            if n >= per || buf.len() + T::MSG_MAX > max_bytes {
                if let Err(e) = self.flush(
                    &buf,
                    Pending::new(first_seq, first_index, n),
                    reader,
                    &mut sink,
                    &mut report,
                    &mut per,
                ) {
                    report.aborted = Some((first_index, e));
                    return Ok(report);
                }
                buf.clear();
                n = 0;
            }
        }
        if n > 0 {
            if let Err(e) = self.flush(
                &buf,
                Pending::new(first_seq, first_index, n),
                reader,
                &mut sink,
                &mut report,
                &mut per,
            ) {
                report.aborted = Some((first_index, e));
            }
        }
        Ok(report)
    }

    /// Writes one batch and collects its acks. Err only when the write itself failed (then
    /// nothing of the batch reached the kernel).
    fn flush(
        &mut self,
        buf: &[u8],
        mut pending: Pending,
        reader: &mut AckReader,
        sink: &mut Sink<'_>,
        report: &mut BatchReport,
        per: &mut usize,
    ) -> Result<()> {
        self.sock.send(buf, 0)?;
        let fd = self.sock.as_raw_fd();
        let mut overrun = false;
        while pending.missing > 0 {
            // a request's reply and its ack at most
            match reader.recv(fd, pending.missing.saturating_mul(2)) {
                Ok(0) if overrun => break,
                Ok(0) => match wait_readable(fd, ACK_TIMEOUT_MS) {
                    Ok(true) => {}
                    Ok(false) => {
                        pending.give_up("no acknowledgement from the kernel within 10 s", report)
                    }
                    Err(_) => pending.give_up("poll on the netlink socket failed", report),
                },
                Ok(k) => {
                    for d in 0..k {
                        pending.take(reader.datagram(d), sink.family, report, sink.on_reply);
                    }
                }
                Err(e) if e.raw_os_error() == Some(ENOBUFS) => overrun = true,
                Err(_) => pending.give_up("receiving on the netlink socket failed", report),
            }
        }
        if pending.missing > 0 {
            pending.give_up("receive buffer overrun (ENOBUFS)", report);
        }
        if overrun {
            *per = (*per / 2).max(1); // the estimate of an ack's cost was low: smaller batches
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Attrs, VrMessage};
    use crate::rt::Route;
    use netlink_packet_core::{NetlinkMessage, NetlinkPayload, NLM_F_ACK_TLVS, NLM_F_CAPPED};
    use netlink_packet_generic::GenlMessage;
    use vrouter_uapi::rt_flag;

    fn ops() -> Vec<RouteOp> {
        vec![
            RouteOp::Add(Route {
                label: Some(42),
                flags: rt_flag::LABEL_VALID,
                ..Route::new(5, "10.0.0.0".parse().unwrap(), 24, 1)
            }),
            RouteOp::Add(Route {
                mac: Some([2, 0, 0, 0, 0, 1]),
                ..Route::new(5, "fd00:3::".parse().unwrap(), 48, 1)
            }),
            RouteOp::Del {
                vrf: 5,
                prefix: "10.200.0.0".parse().unwrap(),
                len: 24,
            },
        ]
    }

    #[test]
    fn several_requests_share_one_buffer_with_distinct_sequence_numbers() {
        let mut buf = Vec::new();
        for (i, op) in ops().iter().enumerate() {
            op.frame(&mut buf, 0x1234, 100 + i as u32);
        }
        // Walk the buffer as the kernel does (netlink_rcv_skb) and decode each request.
        let mut off = 0;
        let mut seqs = Vec::new();
        for op in ops() {
            let len = u32::from_ne_bytes(buf[off..off + 4].try_into().unwrap()) as usize;
            assert!(len <= MSG_MAX, "request of {len} bytes exceeds MSG_MAX");
            let m = NetlinkMessage::<GenlMessage<VrMessage>>::deserialize(&buf[off..off + len])
                .unwrap();
            assert_eq!(m.header.message_type, 0x1234);
            assert_eq!(m.header.flags, NLM_F_REQUEST | NLM_F_ACK);
            seqs.push(m.header.sequence_number);
            let NetlinkPayload::InnerMessage(g) = m.payload else {
                panic!("not a request")
            };
            assert_eq!(g.header.cmd, op.cmd());
            assert_eq!(g.header.version, FAMILY_VERSION);
            assert_eq!(
                g.payload.attrs,
                op.to_message().attrs,
                "batch and single requests encode alike"
            );
            if let RouteOp::Add(r) = op {
                assert_eq!(Route::from_attrs(&g.payload.attrs).unwrap(), r);
            }
            off += len;
        }
        assert_eq!(off, buf.len());
        assert_eq!(seqs, [100, 101, 102]);
    }

    /// An NLMSG_ERROR ack as the kernel sends it (capped, with an extack message).
    fn ack(seq: u32, errno: i32, msg: Option<&str>) -> Vec<u8> {
        let mut p = Vec::new();
        p.extend_from_slice(&(-errno).to_ne_bytes());
        p.extend_from_slice(&[0u8; 16]); // the request's header
        let mut flags = NLM_F_CAPPED;
        if let Some(m) = msg {
            flags |= NLM_F_ACK_TLVS;
            let mut v = m.as_bytes().to_vec();
            v.push(0);
            crate::message::AttrSink::put(&mut RawAttrs(&mut p), 1, &v);
        }
        let mut out = Vec::new();
        out.extend_from_slice(&((16 + p.len()) as u32).to_ne_bytes());
        out.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
        out.extend_from_slice(&flags.to_ne_bytes());
        out.extend_from_slice(&seq.to_ne_bytes());
        out.extend_from_slice(&0u32.to_ne_bytes());
        out.extend_from_slice(&p);
        out
    }

    impl Pending {
        fn take_acks(&mut self, datagram: &[u8], report: &mut BatchReport) {
            self.take(datagram, 0x1234, report, &mut |i, _| {
                panic!("reply for input {i} in an ack-only test")
            });
        }
    }

    /// A message of `kind` as the kernel sends it: header, then `payload`.
    fn message(kind: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&((16 + payload.len()) as u32).to_ne_bytes());
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(&0u16.to_ne_bytes());
        out.extend_from_slice(&seq.to_ne_bytes());
        out.extend_from_slice(&0u32.to_ne_bytes());
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn replies_go_to_their_request_by_sequence_number() {
        let mut report = BatchReport::default();
        let mut p = Pending::new(500, 20, 3);
        // one datagram: reply 0, ack 0, a stranger's reply, reply 2, ack 2; then ack 1
        let mut d = message(0x1234, 500, &[14, 1, 0, 0, 7, 0, 0, 0]);
        d.extend(ack(500, 0, None));
        d.extend(message(0x1234, 77, &[14, 1, 0, 0, 9, 0, 0, 0]));
        d.extend(message(0x1234, 502, &[14, 1, 0, 0, 8, 0, 0, 0]));
        d.extend(ack(502, 0, None));
        let mut got = Vec::new();
        p.take(&d, 0x1234, &mut report, &mut |i, payload| {
            got.push((i, payload.to_vec()))
        });
        p.take(
            &ack(501, 17, Some("exists")),
            0x1234,
            &mut report,
            &mut |_, _| panic!("no reply here"),
        );
        assert_eq!(
            got,
            [
                (20, vec![14, 1, 0, 0, 7, 0, 0, 0]),
                (22, vec![14, 1, 0, 0, 8, 0, 0, 0])
            ]
        );
        assert_eq!((report.ok, p.missing), (2, 0));
        assert_eq!(report.failed[0].index, 21);
        // a reply after its request's ack is a duplicate: ignored
        p.take(
            &message(0x1234, 500, &[0; 4]),
            0x1234,
            &mut report,
            &mut |_, _| panic!("late reply"),
        );
    }

    #[test]
    fn acks_are_matched_by_sequence_number() {
        let mut report = BatchReport::default();
        let mut p = Pending::new(u32::MAX - 1, 1000, 4); // wraps: MAX-1, MAX, 0, 1
        p.take_acks(&ack(u32::MAX - 1, 0, None), &mut report);
        p.take_acks(&ack(u32::MAX, 2, Some("no such route")), &mut report);
        p.take_acks(&ack(7, 0, None), &mut report); // someone else's
        p.take_acks(&ack(u32::MAX - 1, 0, None), &mut report); // duplicate
        p.take_acks(&ack(1, 0, None), &mut report);
        assert_eq!(report.ok, 2);
        assert_eq!(p.missing, 1);
        assert_eq!(report.failed.len(), 1);
        assert_eq!(report.failed[0].index, 1001);
        assert_eq!(report.failed[0].error.to_string(), "no such route (ENOENT)");
        p.give_up("receive buffer overrun (ENOBUFS)", &mut report);
        assert_eq!(report.failed.len(), 2);
        assert_eq!(report.failed[1].index, 1002);
        assert!(
            report.failed[1].error.to_string().contains("ENOBUFS"),
            "{}",
            report.failed[1].error
        );
        assert_eq!(p.missing, 0);
    }

    #[test]
    fn a_truncated_ack_still_counts() {
        let mut report = BatchReport::default();
        let mut p = Pending::new(10, 0, 1);
        let a = ack(10, 22, Some("x".repeat(300).as_str()));
        p.take_acks(&a[..40], &mut report);
        assert_eq!(p.missing, 0);
        assert_eq!(report.failed[0].error.errno(), Some(22));
    }

    /// CTRL_CMD_GETFAMILY for a family name: a request every kernel answers (an error ack
    /// for an unknown name, a reply and an ack for a known one).
    struct GetFamily(String);

    impl Framed for GetFamily {
        fn frame(&self, buf: &mut Vec<u8>, _family: u16, seq: u32) {
            let mut name = self.0.clone().into_bytes();
            name.push(0);
            frame(
                buf,
                0x10, /* GENL_ID_CTRL */
                NLM_F_REQUEST | NLM_F_ACK,
                seq,
                3, /* CTRL_CMD_GETFAMILY */
                |a| {
                    crate::message::AttrSink::put(a, 2 /* CTRL_ATTR_FAMILY_NAME */, &name)
                },
            );
        }
    }

    fn names(n: usize, known_every: usize) -> Vec<GetFamily> {
        (0..n)
            .map(|i| {
                GetFamily(if i % known_every == 0 {
                    "nlctrl".into()
                } else {
                    format!("vrnosuch{i}")
                })
            })
            .collect()
    }

    #[test]
    fn batches_against_the_kernel_count_every_ack() {
        let Ok(mut c) = Client::without_family() else {
            eprintln!("no generic netlink here; skipped");
            return;
        };
        let report = c.batch(names(1000, 10), 256, 0x10).unwrap();
        assert!(report.aborted.is_none());
        assert_eq!(report.ok, 100, "{:?}", report.failed.first());
        assert_eq!(report.failed.len(), 900);
        for f in &report.failed {
            assert_ne!(f.index % 10, 0);
            assert_eq!(
                f.error.errno(),
                Some(crate::error::libc_consts::ENOENT),
                "{}",
                f.error
            );
        }
        // input order within batches, batches in order
        assert!(report.failed.windows(2).all(|w| w[0].index < w[1].index));
        // the socket is still usable for plain requests afterwards
        assert!(c.batch(names(3, 1), 2, 0x10).unwrap().ok == 3);
    }

    #[test]
    fn a_receive_buffer_overrun_is_reported_not_hidden() {
        let Ok(mut c) = Client::without_family() else {
            return;
        };
        // pretend the buffers are big, then shrink the receive buffer to its minimum
        c.batch_bufs = Some((1 << 30, 1 << 20));
        set_int(c.sock.as_raw_fd(), libc::SO_RCVBUF, 0).unwrap();
        let n = 2000;
        let report = c.batch(names(n, usize::MAX), n, 0x10).unwrap();
        let lost = report
            .failed
            .iter()
            .filter(|f| matches!(f.error, Error::AckLost { .. }))
            .count();
        assert_eq!(report.ok + report.failed.len(), n);
        assert!(lost > 0, "no ack was lost with a tiny receive buffer");
        assert!(report
            .failed
            .iter()
            .any(|f| f.error.to_string().contains("ENOBUFS")));
    }

    #[test]
    fn frame_pads_attributes() {
        let mut buf = Vec::new();
        frame(&mut buf, 1, NLM_F_REQUEST, 1, 9, |a| {
            crate::message::AttrSink::put(a, 3, &[1, 2, 3, 4, 5])
        });
        assert_eq!(buf.len(), 16 + 4 + 12);
        assert_eq!(
            u32::from_ne_bytes(buf[0..4].try_into().unwrap()) as usize,
            buf.len()
        );
        let a = Attrs::parse(&buf[20..]).unwrap();
        assert_eq!(a.get(3), Some(&[1, 2, 3, 4, 5][..]));
    }
}
