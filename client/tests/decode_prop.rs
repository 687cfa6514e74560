//! Property tests of reply decoding: whatever bytes a reply carries (a newer module, a
//! corrupted message), decoding returns a value or an error, never a panic; and the
//! well-formed attributes of a record decode to what was encoded.

use proptest::prelude::*;
use vrouter_client::{Attrs, Flow, FlowKey, FlowTableInfo, Info, Nexthop, Route, Vif, VrfStats};
use vrouter_uapi::{flow_attr, vif_attr};

/// Netlink attributes from (type, payload) pairs, padded as the kernel pads them.
fn encode(attrs: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut b = Vec::new();
    for (t, v) in attrs {
        b.extend_from_slice(&((4 + v.len()) as u16).to_ne_bytes());
        b.extend_from_slice(&t.to_ne_bytes());
        b.extend_from_slice(v);
        b.resize(b.len().div_ceil(4) * 4, 0);
    }
    b
}

fn decode_all(a: &Attrs) {
    let _ = Vif::from_attrs(a);
    let _ = Nexthop::from_attrs(a);
    let _ = Route::from_attrs(a);
    let _ = Flow::from_attrs(a);
    let _ = FlowKey::from_attrs(a);
    let _ = FlowTableInfo::from_attrs(a);
    let _ = Info::from_attrs(a);
    let _ = VrfStats::from_attrs(a);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn any_bytes_decode_without_panic(buf in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(a) = Attrs::parse(&buf) {
            decode_all(&a);
        }
    }

    #[test]
    fn any_attributes_decode_without_panic(
        attrs in proptest::collection::vec((1u16..24, proptest::collection::vec(any::<u8>(), 0..40)), 0..24)) {
        let a = Attrs::parse(&encode(&attrs)).expect("well-formed attribute headers parse");
        prop_assert_eq!(a.0.len(), attrs.len());
        decode_all(&a);
    }

    #[test]
    fn a_vif_decodes_to_what_was_encoded(idx in any::<u32>(), vrf in any::<u32>(), ty in 0u32..4,
                                         name in "[a-z][a-z0-9]{0,14}") {
        let mut n = name.clone().into_bytes();
        n.push(0);
        let buf = encode(&[
            (vif_attr::IDX, idx.to_ne_bytes().to_vec()),
            (vif_attr::TYPE, ty.to_ne_bytes().to_vec()),
            (vif_attr::VRF, vrf.to_ne_bytes().to_vec()),
            (vif_attr::NAME, n),
        ]);
        let v = Vif::from_attrs(&Attrs::parse(&buf).unwrap()).expect("decodes");
        prop_assert_eq!((v.idx, v.vrf, v.kind, v.name), (idx, vrf, ty, name));
    }

    #[test]
    fn a_flow_with_a_short_address_is_an_error(len in 0usize..16) {
        prop_assume!(len != 4);
        let buf = encode(&[
            (flow_attr::FAMILY, 2u32.to_ne_bytes().to_vec()),
            (flow_attr::SRC, vec![10; len]),
            (flow_attr::DST, vec![10; 4]),
        ]);
        prop_assert!(FlowKey::from_attrs(&Attrs::parse(&buf).unwrap()).is_err());
    }
}
