//! The C header and YNL spec checked into the tree must be what the generator makes from
//! wire.rs; otherwise the module and userspace could disagree on the wire.
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn c_header_is_current() {
    let on_disk = std::fs::read_to_string(root().join("kmod/glue/vr_uapi.h")).unwrap();
    assert_eq!(
        on_disk,
        vrouter_uapi::gen::c_header(),
        "run: cargo run -p vrouter-uapi --bin vr-uapi-gen"
    );
}

#[test]
fn ynl_spec_is_current() {
    let on_disk = std::fs::read_to_string(root().join("kmod/uapi/vrouter.yaml")).unwrap();
    assert_eq!(
        on_disk,
        vrouter_uapi::gen::ynl_spec(),
        "run: cargo run -p vrouter-uapi --bin vr-uapi-gen"
    );
}

#[test]
fn attribute_ids_are_unique_and_nonzero() {
    for set in vrouter_uapi::ATTR_SETS {
        let mut ids: Vec<u16> = set.attrs.iter().map(|a| a.id).collect();
        assert!(
            ids.iter().all(|&i| i > 0),
            "{}: attribute 0 is reserved",
            set.name
        );
        ids.sort();
        ids.dedup();
        assert_eq!(
            ids.len(),
            set.attrs.len(),
            "{}: duplicate attribute id",
            set.name
        );
    }
    let mut cmds: Vec<u8> = vrouter_uapi::COMMANDS.iter().map(|c| c.id).collect();
    cmds.sort();
    cmds.dedup();
    assert_eq!(cmds.len(), vrouter_uapi::COMMANDS.len());
}

#[test]
fn counted_enums_match_their_lengths() {
    assert_eq!(
        vrouter_uapi::drop_reason::DEF.entries.len(),
        vrouter_uapi::DROP_REASONS
    );
    assert_eq!(
        vrouter_uapi::vrf_stat::DEF.entries.len(),
        vrouter_uapi::VRF_STATS
    );
    for (i, e) in vrouter_uapi::drop_reason::DEF.entries.iter().enumerate() {
        assert_eq!(e.1 as usize, i, "drop reasons are counter indexes");
    }
}

#[test]
fn release_is_the_workspace_version() {
    assert_eq!(vrouter_uapi::RELEASE, env!("CARGO_PKG_VERSION"));
}

#[test]
fn glue_takes_ops_and_parameters_from_the_generated_header() {
    let glue = std::fs::read_to_string(root().join("kmod/glue/vr_glue.c")).unwrap();
    assert!(
        glue.contains("vr_ops[] = { VR_OPS_INIT };"),
        "the genl ops table is VR_OPS_INIT"
    );
    assert!(glue.contains("VR_PARAMS(VR_PARAM_DECLARE)"));
    for c in vrouter_uapi::COMMANDS {
        assert!(
            !glue.contains(&format!("VR_CMD_{},", c.name))
                && !glue.contains(&format!("({},", c.name)),
            "{}: hand-written op in vr_glue.c",
            c.name
        );
    }
    for p in vrouter_uapi::PARAMS {
        assert!(
            !glue.contains(&format!("vr_{} =", p.name)),
            "vr_{}: hand-written parameter in vr_glue.c",
            p.name
        );
    }
}
