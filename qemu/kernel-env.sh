# Sourced by the build scripts: where the test kernel lives and how it is built.
# The cache key hashes everything that goes into the kernel, so a change to any input
# builds a new one, and an unchanged tree reuses the cached build on the same machine.
VR_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VR_CACHE=${VR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vrouter}
export PATH=/usr/lib/llvm-19/bin:$HOME/.cargo/bin:$PATH
# VR_KERNEL=debug: the debug build (kernel-debug.fragment on top: KASAN, lockdep, ...),
# cached apart as kernel-debug-<key>.
case ${VR_KERNEL:-test} in
  test) VR_FRAGMENTS=("$VR_TOP/qemu/kernel.fragment"); VR_KPREFIX=kernel- ;;
  debug) VR_FRAGMENTS=("$VR_TOP/qemu/kernel.fragment" "$VR_TOP/qemu/kernel-debug.fragment")
    VR_KPREFIX=kernel-debug- ;;
  *) echo "VR_KERNEL=$VR_KERNEL: expected test or debug" >&2; exit 64 ;;
esac

vr_kernel_key() {
  {
    dpkg-query -W -f='${Version}\n' linux-source-6.12
    sha256sum /usr/src/linux-source-6.12.tar.xz | cut -d' ' -f1
    cat "${VR_FRAGMENTS[@]}" "$VR_TOP/qemu/build-kernel.sh"
    cat "$VR_TOP"/qemu/patches/*.patch 2>/dev/null || true
    rustc --version; bindgen --version; clang --version | head -1
  } | sha256sum | cut -c1-16
}
