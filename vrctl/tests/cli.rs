//! The binary's behaviour that needs no kernel: input checked before anything is sent
//! (exit 64, one line), batch files reported line by line.

use std::process::{Command, Output, Stdio};

fn vrctl(args: &[&str], stdin: Option<&str>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vrctl"));
    c.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    {
        use std::io::Write;
        let mut i = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            i.write_all(s.as_bytes()).unwrap();
        }
    }
    child.wait_with_output().unwrap()
}

/// Exit code and stderr.
fn fails(args: &[&str]) -> (i32, String) {
    let o = vrctl(args, None);
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn bad_input_is_refused_before_sending() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["rt", "-c", "-v", "1", "-p", "10.0.0.0/33", "-n", "1"],
            "vrctl rt: prefix length 33 beyond 32\n",
        ),
        (
            &["rt", "-c", "-v", "1", "-p", "fd00::/129", "-n", "1"],
            "vrctl rt: prefix length 129 beyond 128\n",
        ),
        (
            &[
                "rt", "-c", "-v", "1", "-p", "10.0.0.0", "-l", "40", "-n", "1",
            ],
            "vrctl rt: prefix length 40 beyond 32\n",
        ),
        (
            &["rt", "-c", "-v", "1", "-p", "10.0.0.5/24", "-n", "1"],
            "vrctl rt: 10.0.0.5/24 has host bits set (the network is 10.0.0.0/24)\n",
        ),
        (
            &["rt", "-d", "-v", "1", "-p", "10.0.300.0/24"],
            "vrctl rt: bad IP address \"10.0.300.0\"\n",
        ),
        (
            &[
                "rt",
                "-c",
                "-v",
                "1",
                "-p",
                "10.0.0.0/24",
                "-n",
                "1",
                "-e",
                "00:11",
            ],
            "vrctl rt: bad MAC address \"00:11\"\n",
        ),
        (
            &[
                "rt",
                "-c",
                "-v",
                "1",
                "-p",
                "10.0.0.0/24",
                "-n",
                "1",
                "-f",
                "inet6",
            ],
            "vrctl rt: 10.0.0.0 is not an inet6 address\n",
        ),
        (
            &["rt", "--get", "10.1.0.0/24"],
            "vrctl rt: --get needs --vrf\n",
        ),
        (
            &["rt", "--dump", "1", "--family", "bridge"],
            "vrctl rt: the bridge family is not supported (no bridge table)\n",
        ),
        (
            &["nh", "--create", "5", "--type", "bogus"],
            "vrctl nh: unknown nexthop type \"bogus\"",
        ),
        (
            &[
                "nh",
                "--create",
                "5",
                "--type",
                "encap",
                "--oif",
                "1",
                "--dmac",
                "02:00:00:00:00",
            ],
            "vrctl nh: bad MAC address",
        ),
        (
            &["nh", "--create", "5", "--type", "encap", "--oif", "1"],
            "vrctl nh: an encap nexthop needs --dmac",
        ),
        (
            &[
                "nh",
                "--create",
                "5",
                "--type",
                "encap",
                "--oif",
                "1",
                "--encap-hex",
                "0g",
            ],
            "vrctl nh: bad hex bytes",
        ),
        (
            &[
                "nh", "--create", "5", "--type", "3", "--oif", "0", "--sip", "1.1.1.1", "--dip",
                "1.1.1.2", "--udp", "--vxlan",
            ],
            "vrctl nh: --udp and --vxlan exclude each other\n",
        ),
        (
            &["nh", "--create", "5", "--type", "tunnel", "--oif", "0"],
            "vrctl nh: a tunnel nexthop needs --sip and --dip\n",
        ),
        (
            &["mpls", "--create", "abc", "--nh", "1"],
            "vrctl mpls: bad label \"abc\"",
        ),
        (
            &["mpls", "--create", "5"],
            "vrctl mpls: --create needs --nh\n",
        ),
        (
            &["mpls", "--dump", "--nh", "5"],
            "vrctl mpls: --nh goes with --create\n",
        ),
        (
            &["vxlan", "--create", "99999999999", "--nh", "1"],
            "vrctl vxlan: bad VNI \"99999999999\"",
        ),
        (
            &["vxlan", "--get", "4", "--nh", "2"],
            "vrctl vxlan: --nh goes with --create\n",
        ),
        (
            &["vif", "--create", "vh", "--mac", "00:11"],
            "vrctl vif: bad MAC address",
        ),
        (
            &[
                "vif",
                "--create",
                "vh",
                "--mac",
                "00:00:5e:00:01:00",
                "--ip6",
                "fd00::zz",
            ],
            "vrctl vif: bad IPv6 address",
        ),
        (
            &["flow", "--match", "1.1.1.1:x"],
            "vrctl flow: bad --match: bad port \"x\" in \"1.1.1.1:x\"\n",
        ),
        (
            &["flow", "--match", "1.1.1.1,fd00::1"],
            "vrctl flow: bad --match: 1.1.1.1 and fd00::1 are of different families\n",
        ),
        (
            &["flow", "--match", "10.0.0.1 & proto gre"],
            "vrctl flow: bad --match: unknown protocol \"gre\"",
        ),
        (
            &["flow", "--match", "a,b,c"],
            "vrctl flow: bad --match: bad IP address \"a\"\n",
        ),
        (
            &["flow", "-p", "0"],
            "vrctl flow: -p needs a count of 1..4000000\n",
        ),
        (
            &["flow", "-p", "4000001"],
            "vrctl flow: -p needs a count of 1..4000000\n",
        ),
        (
            &["flow", "-s", "--interval", "0"],
            "vrctl flow: --interval must be more than 0 and at most 3600 seconds\n",
        ),
        (
            &["flow", "-l", "--keep"],
            "vrctl flow: --vrf and --keep go with -p\n",
        ),
        (
            &["flow", "-l", "--vrf", "2"],
            "vrctl flow: --vrf and --keep go with -p\n",
        ),
        (
            &["flow", "-l", "--interval", "2"],
            "vrctl flow: --interval goes with -s\n",
        ),
        (
            &["flow"],
            "vrctl flow: one of -l, --match, --get, -s, -p, -F, -f, -d, -i, --monitor\n",
        ),
    ];
    for (args, want) in cases {
        let (code, err) = fails(args);
        assert_eq!(code, 64, "{args:?}: {err}");
        assert!(err.starts_with(want), "{args:?}: {err:?}");
        assert_eq!(err.lines().count(), 1, "{args:?}: not one line: {err:?}");
    }
}

#[test]
fn usage_errors_exit_64() {
    for args in [
        &["nh"][..],
        &["rt", "--dump", "x"],
        &["vrfstats"],
        &["vrouter"],
        &["dropstats", "--clear", "--core", "1"],
        &["flow", "-l", "--get", "3"],
        &["flow", "--match", "10.0.0.1", "-F"],
        &["flow", "--get", "x"],
    ] {
        assert_eq!(fails(args).0, 64, "{args:?}");
    }
    assert_eq!(vrctl(&["--help"], None).status.code(), Some(0));
}

#[test]
fn batch_file_lines_are_reported_with_numbers() {
    // only bad lines: nothing to send, so no kernel is needed
    let o = vrctl(
        &["rt", "--batch", "-"],
        Some("# header\nadd 5 10.0.0.0/33 1\n\nmod 5 10.0.0.0/24 1\ndel 5\n"),
    );
    assert_eq!(o.status.code(), Some(65));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "0 ok, 3 failed\n");
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "vrctl rt: line 2: prefix length 33 beyond 32\n\
         vrctl rt: line 4: unknown operation \"mod\" (add or del)\n\
         vrctl rt: line 5: missing prefix\n"
    );
    let (code, err) = fails(&["rt", "--batch", "/nonexistent/routes.txt"]);
    assert_eq!(code, 66, "{err}");
}
