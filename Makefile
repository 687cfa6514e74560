# vrouter: the two commands are `make demo` and `make test` (as root on Debian 12).
# Both install what is missing, build the test kernel (cached under ~/.cache/vrouter),
# the module and the tools, then boot the VM.
SHELL := /bin/bash
export PATH := /usr/lib/llvm-19/bin:$(HOME)/.cargo/bin:$(PATH)

.PHONY: all setup kernel kmod tools test test-host test-vm demo bench clean uapi install

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

test-host: setup
	cargo test --locked --workspace

test-vm: kmod tools
	qemu/vm-run.sh tests/vm/run-all.sh $(T)

test: test-host test-vm

# Native benchmark of the datapath core, then the in-VM comparison with Linux.
bench: kmod tools
	cargo bench --locked -p vrouter-core --bench lpm --bench flow
	qemu/vm-run.sh "tests/bench/vm-bench.sh && tests/bench/cni-latency.sh && tests/bench/flow-bench.sh"

demo: kmod tools
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
	cargo clean
	rm -rf out
	find kmod \( -name '*.o' -o -name '*.ko' -o -name '*.mod*' -o -name '.*.cmd' \) -delete
