#!/usr/bin/env bash
# Runs inside the VM: the command, then a check of the kernel log. Prints the exit status
# on a line of its own (VR-EXIT=n) for vm-run.sh, since virtme-ng's console fallback
# loses it.
cd "$(dirname "$0")/.."
# Debian's own python3 first: the host's PATH may lead to a pyenv shim, a shell script
# that runs several more before Python starts (each exec is costly in TCG). The tests'
# Python needs only the standard library, PyYAML and jsonschema (qemu/setup-host.sh).
export PATH=$PWD/target/release:/usr/sbin:/usr/bin:/sbin:/bin:$PATH
export VR_KSRC=$(ls -d "${VR_CACHE:-$HOME/.cache/vrouter}"/kernel-* 2>/dev/null | grep -v '\.tmp$' | head -1)
dmesg -n 4 2>/dev/null   # keep module info chatter off the console; warnings still show
echo VR-BEGIN
# One argument is a shell command line; several are a command and its arguments, passed
# as they are (empty ones and patterns included).
if [ $# -eq 1 ]; then bash -c "$1"; else "$@"; fi
rc=$?
if dmesg | grep -E 'WARNING:|BUG:|Oops|general protection fault|Call Trace:' >/dev/null; then
  echo "guest-run: kernel log has warnings:"; dmesg | grep -E -A20 'WARNING:|BUG:|Oops|general protection|Call Trace:' | head -80
  [ $rc = 0 ] && rc=1
fi
echo "VR-EXIT=$rc"
