//! Writes kmod/glue/vr_uapi.h and kmod/uapi/vrouter.yaml from the wire definitions.
//! `--check` compares instead of writing (the unit tests do the same).
use std::path::PathBuf;

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let check = std::env::args().any(|a| a == "--check");
    let outputs = [
        (
            root.join("kmod/glue/vr_uapi.h"),
            vrouter_uapi::gen::c_header(),
        ),
        (
            root.join("kmod/uapi/vrouter.yaml"),
            vrouter_uapi::gen::ynl_spec(),
        ),
    ];
    let mut stale = false;
    for (path, text) in outputs {
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        if current == text {
            continue;
        }
        if check {
            eprintln!("stale: {}", path.display());
            stale = true;
        } else {
            std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
            println!("wrote {}", path.display());
        }
    }
    if stale {
        std::process::exit(1);
    }
}
