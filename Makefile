# vrouter: the two commands are `make demo` and `make test` (as root on Debian 12).
# Both install what is missing, build the test kernel (cached under ~/.cache/vrouter),
# the module and the tools, then boot the VM.
SHELL := /bin/bash
export PATH := /usr/lib/llvm-19/bin:$(HOME)/.cargo/bin:$(PATH)

.PHONY: all setup kernel kmod kmod-debug tools cluster cluster-background debug-kernel-background test test-host test-vm test-debug test-k8s fuzz fuzz-debug soak demo demo-datapath bench bench-k8s clean uapi install

all: kmod tools

setup:
	@bash qemu/setup-host.sh

kernel: setup
	@bash qemu/build-kernel.sh >/dev/null

kmod: kernel
	@kdir=$$(bash qemu/build-kernel.sh 2>/dev/null) && $(MAKE) -s -C $$kdir M=$(CURDIR) LLVM=1 modules

tools: setup
	cargo build --release --locked -p vrctl -p vrouter-agent -p vrouter-cni -p vr-cri
	@[ out/cri/pause.tar -nt tests/cri/pause.c ] || bash tests/cri/build-pause-image.sh out/cri/pause.tar
	@mkdir -p out && [ out/udpflood -nt tests/vm/tools/udpflood.c ] || gcc -O2 -Wall -o out/udpflood tests/vm/tools/udpflood.c

# Regenerate the C header and YNL spec from kmod/uapi/src/wire.rs.
uapi:
	cargo run -q -p vrouter-uapi --bin vr-uapi-gen

# Formatting and lints are gates: a diff or a clippy warning fails the suite. kmod/ is
# formatted as the kernel formats Rust (its .rustfmt.toml; the module is not a cargo crate).
test-host: setup
	cargo fmt --all -- --check
	rustfmt --edition 2021 --config-path kmod/.rustfmt.toml --check kmod/vrouter_mod.rs
	cargo clippy --locked --workspace --all-targets -- -D warnings
	cargo test --locked --workspace

# Every VM test runs on the test kernel. The debug kernel (KASAN, lockdep, PROVE_RCU,
# UBSAN, kmemleak: qemu/kernel-debug.fragment) is five to ten times slower in TCG (beside
# another VM: vifs of each type 53 s, the overlay's pods across tunnels 231 s, the fuzzer
# with 3,000 requests 249 s, a flow verdict test 441 s), so make test runs there the few
# tests that reach the most module code (DEBUG_TESTS: vifs of each type, unload under
# traffic, the fuzzer as root on a live datapath with flows, L3 forwarding v4/v6 through
# encap and tunnel nexthops with encapsulation, GSO segmentation and decapsulation);
# `make test-debug T=<pattern>` runs any other there.
DEBUG_TESTS := @(vif_add_get|rmmod_with_vifs|fuzz_root|overlay_pods_reach)
DEBUG_KO := out/kmod-debug/kmod/vrouter.ko
# Every flow dump walks the whole table, which KASAN makes slow: the debug tier loads the
# module with a smaller one (tests that need a size ask for it).
DEBUG_ENV := VR_KO=$(DEBUG_KO) VR_LOAD_ARGS=vr_flow_entries=65536 VR_FUZZ_COUNT=300 VR_FUZZ_UNPRIV_COUNT=300

test-vm: kmod tools
	qemu/vm-run.sh tests/vm/run-all.sh '$(T)'

# The module built for the debug kernel, from a copy of the sources (Kbuild writes its
# objects beside them, and kmod/ holds the test kernel's).
kmod-debug: setup
	@kdir=$$(VR_KERNEL=debug bash qemu/build-kernel.sh 2>/dev/null) && mkdir -p out/kmod-debug \
	  && tar -c --exclude='*.o' --exclude='*.ko' --exclude='.*.cmd' --exclude='*.mod' \
	       --exclude='*.mod.c' --exclude=modules.order --exclude=Module.symvers Kbuild kmod \
	     | tar -x -C out/kmod-debug \
	  && $(MAKE) -s -C $$kdir M=$(CURDIR)/out/kmod-debug LLVM=1 modules

# Any report of the kernel's checkers fails the run (qemu/vm-run.sh reads the console);
# kmemleak is scanned after the last test unloaded the module.
test-debug: kmod-debug tools
	VR_KERNEL=debug VR_VM_TIMEOUT=2400 VR_VM_LOG=$(CURDIR)/out/vm-debug-console.log qemu/vm-run.sh 'tests/vm/kmemleak.sh start && $(DEBUG_ENV) tests/vm/run-all.sh "$(or $(T),$(DEBUG_TESTS))" && tests/vm/kmemleak.sh check'

# The netlink fuzzer at length (make test runs 20,000 requests on the test kernel and
# 300 on the debug kernel): 10^6 on the test kernel, a new seed each time. The debug
# kernel answers about 10 requests a second in TCG (10^6 would take a day there);
# `make fuzz-debug N=<count>` runs a chosen number on it.
FUZZ_SEED ?= $(shell echo $$RANDOM)
fuzz: kmod tools
	VR_VM_TIMEOUT=10800 VR_VM_LOG=$(CURDIR)/out/vm-fuzz-console.log qemu/vm-run.sh "VR_FUZZ_COUNT=1000000 VR_FUZZ_SEED=$(FUZZ_SEED) tests/vm/run-all.sh fuzz_root"

fuzz-debug: kmod-debug tools
	VR_KERNEL=debug VR_VM_TIMEOUT=10800 VR_VM_LOG=$(CURDIR)/out/vm-debug-console.log qemu/vm-run.sh "$(DEBUG_ENV) VR_FUZZ_COUNT=$(or $(N),30000) VR_FUZZ_SEED=$(FUZZ_SEED) tests/vm/run-all.sh fuzz_root"

# Kubernetes components, containerd and the test images, built from the Go modules pinned
# in cluster/ (cached under ~/.cache/vrouter/cluster-<hash>).
cluster: setup
	@bash cluster/build.sh >/dev/null

# The control plane on the host, a node VM on its bridge, tests/k8s/test_*.sh inside it;
# then two node VMs and tests/k8s/multinode/test_*.sh (the overlay between nodes).
test-k8s: kmod tools cluster
	tests/k8s/run.sh '$(T)'
	K8S_NODES=2 tests/k8s/run.sh '$(T)'

# The cluster's Go build (about 20 minutes on a fresh machine) starts in the background at
# the lowest priority before the VM tests (qemu/idle-priority.sh): it takes only the CPU
# time the VM leaves idle.
# test-k8s then finds it built (cluster/build.sh holds its lock until it is done, and
# builds again, in the foreground, if the background build failed).
cluster-background: setup
	@mkdir -p out; (setsid bash qemu/idle-priority.sh bash cluster/build.sh > out/cluster-build.log 2>&1 &); \
	  echo "[cluster] building in the background while the VM tests run (out/cluster-build.log)"

# The debug kernel builds in the background at the lowest priority, like the cluster:
# test-debug's kmod-debug waits on its lock (qemu/build-kernel.sh, one lock per kernel
# flavour) and builds it in the foreground if the background build failed.
debug-kernel-background: setup
	@mkdir -p out; (VR_KERNEL=debug setsid bash qemu/idle-priority.sh bash qemu/build-kernel.sh > out/kernel-debug-build.log 2>&1 &); \
	  echo "[kernel] building the debug kernel in the background (out/kernel-debug-build.log)"

# One VM at a time: two at once ran each test two to three times slower, for no gain in
# throughput (TCG is CPU-bound; README, CI time).
test: test-host cluster-background debug-kernel-background test-vm test-k8s test-debug

# Soak (not part of make test: over an hour in TCG): 1000 pod cycles through the CNI with
# traffic, 20 module reloads under traffic, agent kill -9 during churn; then 200 pods
# through kubelet on a cluster node; after each, nothing leaked.
soak: kmod tools cluster
	VR_VM_TIMEOUT=7200 qemu/vm-run.sh tests/soak/soak.sh
	VR_VM_TIMEOUT=5400 K8S_GUEST=tests/soak/k8s-soak.sh tests/k8s/run.sh

# Native benchmark of the datapath core, then the in-VM comparison with Linux.
bench: kmod tools
	cargo bench --locked -p vrouter-core --bench lpm --bench flow
	qemu/vm-run.sh "tests/bench/vm-bench.sh && tests/bench/cni-latency.sh && tests/bench/flow-bench.sh"

# The cluster: control plane, node VM 1, pods scheduled by Kubernetes and networked by vrouter.
# Pod create-to-Ready under one kubelet: vrouter vs bridge + host-local.
bench-k8s: kmod tools cluster
	K8S_GUEST=tests/bench/k8s-pod-ready.sh tests/k8s/run.sh

demo: kmod tools cluster
	K8S_NODES=2 K8S_GUEST=tests/k8s/demo.sh tests/k8s/run.sh

# The datapath alone in one VM: agent, CNI pods by hand, policy, flows, a CRI pod.
demo-datapath: kmod tools
	qemu/vm-run.sh tests/demo.sh

# A node's install: the CNI plugin where runtimes look for it (/opt/cni/bin, config in
# /etc/cni/net.d, as kubelet/containerd expect), the agent and vrctl, the agent's config
# (kept when present).
install: tools
	install -D -m 0755 target/release/vrouter-cni $(DESTDIR)/opt/cni/bin/vrouter-cni
	install -D -m 0644 cni/10-vrouter.conflist $(DESTDIR)/etc/cni/net.d/10-vrouter.conflist
	install -D -m 0755 target/release/vrouter-agent $(DESTDIR)/usr/local/bin/vrouter-agent
	install -D -m 0755 target/release/vrctl $(DESTDIR)/usr/local/bin/vrctl
	[ -e $(DESTDIR)/etc/vrouter/agent.toml ] || install -D -m 0644 agent/vrouter-agent.example.toml $(DESTDIR)/etc/vrouter/agent.toml

clean:
	rm -rf target   # the link to the cached cargo build (qemu/setup-host.sh), or a real target/
	rm -rf out
	find kmod \( -name '*.o' -o -name '*.ko' -o -name '*.mod*' -o -name '.*.cmd' \) -delete
