//! `parse_head`: the kernel parses only the linear head of a long (GSO) packet.
mod packet_common;
use packet_common::*;
use vrouter_core::packet::{parse, parse_head, ParseError, L3, L4};

#[test]
fn a_head_of_a_long_packet_parses_like_the_whole() {
    let data = vec![0xab; 9000];
    let v4 = frame(0x0800, &ipv4(IP_A, IP_B, 17, &udp(1234, 5678, &data)));
    let v6 = frame(0x86dd, &ipv6(IP6_A, IP6_B, 17, &udp(1234, 5678, &data)));
    for f in [v4, v6] {
        let whole = parse(&f).unwrap();
        for head in [64usize, 128, 256] {
            assert_eq!(
                parse_head(&f[..head], f.len()).unwrap(),
                whole,
                "head {head}"
            );
        }
        assert!(matches!(
            whole.l4,
            L4::Udp {
                sport: 1234,
                dport: 5678
            }
        ));
        // the frame is shorter than the IP header says: still truncated
        assert_eq!(parse_head(&f[..256], 1000), Err(ParseError::Truncated));
        // a head longer than the frame makes no sense
        assert_eq!(parse_head(&f[..256], 100), Err(ParseError::BadTotalLen));
    }
}

#[test]
fn a_head_that_cuts_the_l4_header_is_an_error() {
    let f = frame(0x0800, &ipv4(IP_A, IP_B, 6, &tcp(1, 2, 0x02)));
    let whole = parse(&f).unwrap();
    assert!(matches!(whole.l3, L3::Ipv4(_)));
    assert_eq!(
        parse_head(&f[..14 + 20 + 10], f.len()),
        Err(ParseError::TruncatedL4)
    );
}
