#!/usr/bin/env bash
# Builds the test kernel (Debian linux-source-6.12, CONFIG_RUST, LLVM=1) into the cache
# outside the checkout and prints its build directory (KDIR) on stdout.
# Reused when the cache key (qemu/kernel-env.sh) is unchanged.
set -euo pipefail
. "$(dirname "$0")/kernel-env.sh"

key=$(vr_kernel_key)
kdir=$VR_CACHE/$VR_KPREFIX$key
log() { printf '[kernel] %s\n' "$*" >&2; }

mkdir -p "$VR_CACHE"
# One lock per flavour: the debug kernel can build in the background while the test
# kernel's users (make kmod, every vm-run.sh) go on.
exec 9>"$VR_CACHE/${VR_KPREFIX}lock"
flock 9
if [ -f "$kdir/.vrouter-built" ]; then
  log "cached: $kdir"
  echo "$kdir"; exit 0
fi

start=$(date +%s)
tmp=$kdir.tmp
rm -rf "$tmp"; mkdir -p "$tmp"
log "extracting linux-source-6.12 into $tmp"
tar -xJf /usr/src/linux-source-6.12.tar.xz -C "$tmp" --strip-components=1
cd "$tmp"
for p in "$VR_TOP"/qemu/patches/*.patch; do
  [ -e "$p" ] || continue
  log "applying $(basename "$p")"
  patch -p1 -s < "$p"
done

make_k() { make LLVM=1 -j"$(nproc)" "$@"; }
make_k -s tinyconfig
scripts/kconfig/merge_config.sh -m -O . .config "${VR_FRAGMENTS[@]}" >/dev/null
make_k -s olddefconfig
make_k -s rustavailable >&2

# Every option the fragments ask for (the last word on each wins) must have survived
# olddefconfig; a silently dropped dependency would otherwise surface much later as a
# confusing test failure.
bad=0
while IFS= read -r line; do
  case "$line" in
    CONFIG_*=n) opt=${line%%=*}; grep -q "^$opt=" .config && { log "config: $opt should be off"; bad=1; } ;;
    CONFIG_*=*) grep -qxF "$line" .config || { log "config: wanted $line, got: $(grep "^${line%%=*}=" .config || echo unset)"; bad=1; } ;;
    "# CONFIG_"*" is not set") opt=${line#\# }; opt=${opt%% *}; grep -q "^$opt=" .config && { log "config: $opt should be off"; bad=1; } ;;
  esac
done < <(cat "${VR_FRAGMENTS[@]}" | awk '{ o = $0; sub(/^# /, "", o); sub(/[= ].*/, "", o) }
  /^(CONFIG_|# CONFIG_)/ { if (!(o in last)) order[n++] = o; last[o] = $0 }
  END { for (i = 0; i < n; i++) print last[order[i]] }')
[ "$bad" = 0 ] || { log "config fragment not satisfied"; exit 1; }

log "building (LLVM=1, $(nproc) jobs)"
make_k -s >&2
touch .vrouter-built
cd /
mv "$tmp" "$kdir"
# keep the two newest kernels of this flavour, drop older ones
ls -1dt "$VR_CACHE"/"$VR_KPREFIX"*/ 2>/dev/null | grep -E "/$VR_KPREFIX[0-9a-f]{16}/\$" \
  | tail -n +3 | xargs -r rm -rf
log "built in $(( $(date +%s) - start ))s: $kdir"
echo "$kdir"
