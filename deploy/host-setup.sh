#!/usr/bin/env bash
# Turn a fresh Debian 12 / Ubuntu machine into an Ironbark hypervisor host, idempotently.
# What it does (see docs/node-agent.md and HOST-SETUP notes):
#   - apt packages, only those missing (--no-install-recommends): libvirt + QEMU, the Debian
#     kernel and busybox for the demo image, dnsmasq-base, nftables, and the build tools for
#     libvirt-python.
#   - without systemd (containers, CI): groups kvm and libvirt-qemu, the system user
#     libvirt-qemu, /etc/libvirt/qemu.conf running QEMU as root with no ownership juggling,
#     then virtlogd and libvirtd started as daemons if their pid files are not alive.
#     With systemd: libvirt-daemon-system and its units, libvirt's default ownership handling.
#   - waits until `virsh -c qemu:///system version` answers.
#   - the project venv (deploy/install.sh) plus the [node] extra (libvirt-python), built
#     against the system libvirt only when `import libvirt` fails.
# Needs root. Safe to run again: a second run changes nothing and takes about a second.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1

say() { echo "host-setup: $*" >&2; }
die() { say "error: $*"; exit 1; }

[[ "$(id -u)" == 0 ]] || die "run as root (sudo $0)"

with_systemd=0
[[ -d /run/systemd/system ]] && with_systemd=1

packages=(libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients libvirt-dev pkg-config
    qemu-system-x86 qemu-utils linux-image-amd64 busybox-static cpio kmod e2fsprogs
    dnsmasq-base nftables iproute2 xz-utils fakeroot gcc python3-dev procps)
[[ $with_systemd == 1 ]] && packages+=(libvirt-daemon-system)

missing=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$pkg")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    say "installing apt packages: ${missing[*]}"
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

ensure_group() { getent group "$1" >/dev/null || groupadd --system "$1"; }

# Set `key = value` in qemu.conf (replacing a commented or existing line); report a change.
set_qemu_conf() {
    local key="$1" value="$2" file=/etc/libvirt/qemu.conf
    grep -qE "^${key} = ${value}\$" "$file" && return 0
    if grep -qE "^#? *${key} = " "$file"; then
        sed -i -E "0,/^#? *${key} = .*/s//${key} = ${value}/" "$file"
    else
        echo "${key} = ${value}" >>"$file"
    fi
    say "qemu.conf: ${key} = ${value}"
}

pid_alive() { [[ -s "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

if [[ $with_systemd == 1 ]]; then
    systemctl enable --now libvirtd.service virtlogd.service >/dev/null 2>&1 \
        || systemctl start libvirtd virtlogd
else
    ensure_group kvm
    ensure_group libvirt-qemu
    getent passwd libvirt-qemu >/dev/null \
        || useradd --system --no-create-home --shell /usr/sbin/nologin -g libvirt-qemu libvirt-qemu
    mkdir -p /etc/libvirt /var/log/libvirt /var/run/libvirt
    touch /etc/libvirt/qemu.conf
    set_qemu_conf user '"root"'
    set_qemu_conf group '"root"'
    set_qemu_conf dynamic_ownership 0
    set_qemu_conf remember_owner 0
    if ! pid_alive /var/run/virtlogd.pid; then
        say "starting virtlogd"
        virtlogd -d
    fi
    if ! pid_alive /var/run/libvirtd.pid; then
        say "starting libvirtd (its first start probes QEMU for several seconds)"
        libvirtd -d
    fi
fi

deadline=$((SECONDS + 60))
until virsh -c qemu:///system version >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "libvirtd does not answer on qemu:///system after 60 s"
    sleep 0.5
done
say "libvirt answers: $(virsh -c qemu:///system version 2>/dev/null | grep -i 'running hypervisor' || true)"

# The project venv, then libvirt-python (the [node] extra) compiled against the system libvirt.
"$repo/deploy/install.sh"
if ! "$repo/.venv/bin/python" -c 'import libvirt' 2>/dev/null; then
    owner="$(stat -c %U "$repo")"
    say "installing the [node] extra (libvirt-python) into $repo/.venv"
    runuser -u "$owner" -- sh -c 'cd "$1" && .venv/bin/python -m pip install -q -e ".[node,test]"' \
        sh "$repo" >&2
fi
"$repo/.venv/bin/python" -c 'import libvirt' || die "libvirt-python is not importable"
say "done: hypervisor host ready"
