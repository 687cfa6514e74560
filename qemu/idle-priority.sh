#!/usr/bin/env bash
# Runs a command at the lowest CPU priority, so that it takes only the time the VM tests
# leave idle:
#   setsid qemu/idle-priority.sh <command> [args...]
# `nice` alone is not enough: with autogroup scheduling (Debian's default) each session
# gets an equal share of the CPU whatever its processes' nice values, and vm-run.sh starts
# QEMU in a session of its own, so a niced build in make's session still took half the
# cores from the VM (the VM tests ran 2-3 times slower). Run from its own session (setsid),
# the command's autogroup is niced too.
set -euo pipefail
echo 19 > /proc/self/autogroup 2>/dev/null || true
exec nice -n 19 "$@"
