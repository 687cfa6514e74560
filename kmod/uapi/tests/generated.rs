//! The C header and YNL spec checked into the tree must be what the generator makes from
//! wire.rs; otherwise the module and userspace could disagree on the wire.
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn c_header_is_current() {
    let on_disk = std::fs::read_to_string(root().join("kmod/glue/vr_uapi.h")).unwrap();
    assert_eq!(on_disk, vrouter_uapi::gen::c_header(), "run: cargo run -p vrouter-uapi --bin vr-uapi-gen");
}

#[test]
fn ynl_spec_is_current() {
    let on_disk = std::fs::read_to_string(root().join("kmod/uapi/vrouter.yaml")).unwrap();
    assert_eq!(on_disk, vrouter_uapi::gen::ynl_spec(), "run: cargo run -p vrouter-uapi --bin vr-uapi-gen");
}

#[test]
fn attribute_ids_are_unique_and_nonzero() {
    for set in vrouter_uapi::ATTR_SETS {
        let mut ids: Vec<u16> = set.attrs.iter().map(|a| a.id).collect();
        assert!(ids.iter().all(|&i| i > 0), "{}: attribute 0 is reserved", set.name);
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), set.attrs.len(), "{}: duplicate attribute id", set.name);
    }
    let mut cmds: Vec<u8> = vrouter_uapi::COMMANDS.iter().map(|c| c.id).collect();
    cmds.sort();
    cmds.dedup();
    assert_eq!(cmds.len(), vrouter_uapi::COMMANDS.len());
}
