# vrouter: the two commands are `make demo` and `make test` (as root on Debian 12).
# Both install what is missing, build the test kernel (cached under ~/.cache/vrouter),
# the module and the tools, then boot the VM.
SHELL := /bin/bash
export PATH := /usr/lib/llvm-19/bin:$(HOME)/.cargo/bin:$(PATH)

.PHONY: all setup kernel kmod tools test test-host test-vm demo bench clean uapi

all: kmod tools

setup:
	@bash qemu/setup-host.sh

kernel: setup
	@bash qemu/build-kernel.sh >/dev/null

kmod: kernel
	@kdir=$$(bash qemu/build-kernel.sh 2>/dev/null) && $(MAKE) -s -C $$kdir M=$(CURDIR) LLVM=1 modules

tools: setup
	cargo build --release --locked -p vrctl

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
	cargo bench --locked -p vrouter-core --bench lpm
	qemu/vm-run.sh tests/bench/vm-bench.sh

demo: kmod tools
	qemu/vm-run.sh tests/demo.sh

clean:
	cargo clean
	rm -rf out
	find kmod \( -name '*.o' -o -name '*.ko' -o -name '*.mod*' -o -name '.*.cmd' \) -delete
