#!/usr/bin/env bash
# Build the Ironbark demo image offline, in seconds, without root or loop mounts:
#   OUT/vmlinux     the Debian kernel, decompressed to its ELF image (QEMU boots it via PVH,
#                   ~20 % faster under TCG than letting the guest decompress the bzImage);
#                   the bzImage itself when it carries no xz payload
#   OUT/initrd.img  busybox + the virtio/ext4 module closure; /init mounts root= and switches
#   OUT/root.img    64 MiB raw ext4: busybox, DHCP on eth0, metadata + user-data from
#                   169.254.169.254, user-data scripts run once per instance, acpid power button
#   OUT/image.json  file names, sizes, sha256 and the kernel command line to boot with
# Usage: build-demo.sh OUT_DIR [KERNEL_VERSION]. Needs linux-image-amd64, busybox-static, kmod,
# cpio, e2fsprogs (mkfs.ext4 -d), fakeroot, xz-utils, python3 (deploy/host-setup.sh installs them).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:?usage: build-demo.sh OUT_DIR [KERNEL_VERSION]}"
kver="${2:-}"
modules=(crc32c_generic virtio_pci virtio_blk virtio_net virtio_scsi sd_mod ext4 button evdev)
cmdline="console=ttyS0 root=/dev/vda rw quiet"

say() { echo "build-demo: $*" >&2; }
die() { say "error: $*"; exit 1; }

if [[ -z "$kver" ]]; then
    for f in /boot/vmlinuz-*; do
        [[ -e "$f" && -d "/lib/modules/${f#/boot/vmlinuz-}" ]] && kver="${f#/boot/vmlinuz-}"
    done
fi
[[ -n "$kver" && -r "/boot/vmlinuz-$kver" ]] || die "no readable /boot/vmlinuz-* (install linux-image-amd64)"
busybox="$(command -v busybox)" || die "busybox not found (install busybox-static)"
file -L "$busybox" 2>/dev/null | grep -q 'dynamically linked' && die "$busybox is not static"

mkdir -p "$out"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# --- kernel: the xz payload of the bzImage is the ELF vmlinux --------------------------------
python3 - "/boot/vmlinuz-$kver" "$work/vmlinux" <<'PY'
import lzma, shutil, sys
src, dst = sys.argv[1], sys.argv[2]
data = open(src, "rb").read()
start = data.find(b"\xfd7zXZ\x00")
elf = b""
if start >= 0:
    try:
        elf = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data[start:])
    except lzma.LZMAError:
        elf = b""
if elf.startswith(b"\x7fELF"):
    open(dst, "wb").write(elf)
else:
    shutil.copyfile(src, dst)  # no xz payload: boot the bzImage as it is
PY
mv "$work/vmlinux" "$out/vmlinux"

# --- busybox tree shared by ramdisk and root ------------------------------------------------
populate_busybox() {  # DIR
    local dir="$1" applet
    mkdir -p "$dir"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,run,tmp,root,var/lib,var/log}
    cp "$busybox" "$dir/bin/busybox"
    for applet in $("$busybox" --list); do
        [[ "$applet" == busybox ]] && continue
        ln -sf busybox "$dir/bin/$applet"
    done
    for applet in init modprobe insmod poweroff reboot halt switch_root acpid udhcpc; do
        ln -sf ../bin/busybox "$dir/sbin/$applet"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\n' >"$dir/etc/passwd"
    printf 'root:x:0:\n' >"$dir/etc/group"
}

# --- ramdisk: busybox + module closure ------------------------------------------------------
rd="$work/initramfs"
populate_busybox "$rd"
cp "$here/demo/initramfs/init" "$rd/init"
: >"$rd/etc/modules-boot"
while read -r kind path _; do
    [[ "$kind" == insmod ]] || continue
    rel="${path#/}"
    mkdir -p "$rd/$(dirname "$rel")"
    case "$rel" in
        *.ko.xz) xz -dc "$path" >"$rd/${rel%.xz}" ;;
        *.ko.zst) zstd -qdc "$path" >"$rd/${rel%.zst}" ;;
        *.ko.gz) gzip -dc "$path" >"$rd/${rel%.gz}" ;;
        *) cp "$path" "$rd/$rel" ;;
    esac
done < <(modprobe -a -S "$kver" --show-depends "${modules[@]}" 2>/dev/null)
printf '%s\n' "${modules[@]}" >"$rd/etc/modules-boot"
for f in modules.order modules.builtin modules.builtin.modinfo; do
    [[ -e "/lib/modules/$kver/$f" ]] && cp "/lib/modules/$kver/$f" "$rd/lib/modules/$kver/"
done
depmod -b "$rd" "$kver"
fakeroot -- sh -c 'cd "$1" && mknod -m 600 dev/console c 5 1 && mknod -m 666 dev/null c 1 3 &&
    find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -6 >"$2"' \
    sh "$rd" "$work/initrd.img"
mv "$work/initrd.img" "$out/initrd.img"

# --- root disk: busybox system + the demo scripts -------------------------------------------
root="$work/rootfs"
populate_busybox "$root"
cp -a "$here/demo/rootfs/." "$root/"
rm -f "$work/root.img"
fakeroot -- sh -c 'mknod -m 600 "$1/dev/console" c 5 1 && mknod -m 666 "$1/dev/null" c 1 3 &&
    mkfs.ext4 -q -F -L ironbark-root -d "$1" -E root_owner=0:0 "$2" 64M >/dev/null' sh "$root" "$work/root.img"
mv "$work/root.img" "$out/root.img"

python3 - "$out" "$kver" "$cmdline" <<'PY'
import hashlib, json, os, sys
out, kver, cmdline = sys.argv[1:4]
def entry(name):
    path = os.path.join(out, name)
    digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
    return {"file": name, "size": os.path.getsize(path), "sha256": digest}
manifest = {"name": "ironbark-demo", "kernel_version": kver, "cmdline": cmdline,
            "kernel": entry("vmlinux"), "ramdisk": entry("initrd.img"),
            "root": dict(entry("root.img"), format="raw")}
with open(os.path.join(out, "image.json"), "w") as f:
    json.dump(manifest, f, indent=2)
PY
say "built $out (kernel $kver): vmlinux initrd.img root.img image.json"
