// SPDX-License-Identifier: GPL-2.0
//! TCP connection state, tracked per direction so closed connections can be reused
//! before the agent ages them out (TF's `vr_flow_tcp_digest`, simplified: no sequence
//! numbers are checked, only the flags).

use super::super::uapi::flow_tcp;

const TH_FIN: u8 = 0x01;
const TH_SYN: u8 = 0x02;
const TH_RST: u8 = 0x04;
const TH_ACK: u8 = 0x10;

/// State bits to add to the entry the packet matched and to its reverse entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TcpUpdate {
    pub own: u32,
    pub reverse: u32,
}

/// What a packet with TCP flags `th` means for an entry in state `own` whose reverse
/// entry is in state `reverse`:
/// - SYN marks the direction's SYN; an ACK without SYN after it marks it Established;
/// - FIN marks FIN and half-close; once both directions sent FIN both are Dead;
/// - RST makes both directions Dead at once.
pub fn tcp_update(own: u32, reverse: u32, th: u8) -> TcpUpdate {
    let mut add = 0;
    if th & TH_SYN != 0 {
        add |= flow_tcp::SYN;
    }
    if th & TH_ACK != 0 && th & TH_SYN == 0 && own & flow_tcp::SYN != 0 {
        add |= flow_tcp::ESTABLISHED;
    }
    if th & TH_FIN != 0 {
        add |= flow_tcp::FIN | flow_tcp::HALF_CLOSE;
    }
    let mut rev = 0;
    if th & TH_RST != 0 {
        add |= flow_tcp::RST | flow_tcp::DEAD;
        rev |= flow_tcp::DEAD;
    } else if (own | add) & flow_tcp::FIN != 0 && reverse & flow_tcp::FIN != 0 {
        add |= flow_tcp::DEAD;
        rev |= flow_tcp::DEAD;
    }
    // Only what is new, so callers can skip the atomic when nothing changes.
    TcpUpdate {
        own: add & !own,
        reverse: rev & !reverse,
    }
}
