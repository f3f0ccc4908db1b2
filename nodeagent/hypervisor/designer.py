"""Policy: how an Ironbark instance looks as a libvirt domain.

Direct kernel boot; the root disk is the instance's qcow2 overlay as virtio ``vda`` whose serial
is the instance id; its ephemeral (instance-store) disks as the virtio disks their mappings name
(``vdb``…, serial ``ephemeralN``); one virtio NIC on the node's bridge with the MAC and tap name the controller
chose; serial console on a pty logged to a file; ACPI (for shutdown and hotplug); under TCG a
32 MiB translation-block cache (QEMU's default is far larger and costs RSS per guest).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from nodeagent.hypervisor.config import (
    BridgeInterfaceConfig,
    DirectKernelBootConfig,
    DiskConfig,
    DomainConfig,
    NbdDiskSource,
    PtySerialConfig,
)
from nodeagent.hypervisor.virt_type import VirtType
from nodeagent.spec import InstancePaths, InstanceSpec, InvalidSpec
from nodeagent.volumes import VolumeAttachment

TCG_TB_CACHE_MIB = 32
ROOT_DEV = "vda"  # the root disk; attached volumes are vdb..vdz
# Domain UUIDs are derived from the instance id, so redefining an instance (start after stop,
# re-adoption, a repeated run) updates the same domain instead of clashing with it.
DOMAIN_UUID_NAMESPACE = uuid.UUID("6f1d3c2e-7a59-4e0b-9d0a-1b5e2c3f4a60")


@dataclass(frozen=True)
class NodePolicy:
    """Node-wide choices the designer applies to every guest."""

    virt_type: VirtType
    bridge: str
    tcg_tb_cache_mib: int = TCG_TB_CACHE_MIB


def volume_disk(attachment: VolumeAttachment) -> DiskConfig:
    """An attached volume: a virtio disk whose serial the guest reads as the volume id, opened
    by path, or over NBD from the volume's storage host."""
    nbd = None
    if attachment.nbd:
        source = attachment.nbd_source
        nbd = NbdDiskSource(source.host, source.port, source.name)
    return DiskConfig(
        source=attachment.path,
        target_dev=attachment.target_dev,
        driver_type=attachment.format,
        serial=attachment.serial,
        nbd=nbd,
    )


def design(
    spec: InstanceSpec,
    paths: InstancePaths,
    policy: NodePolicy,
    volumes: list[VolumeAttachment] | None = None,
    root: VolumeAttachment | None = None,
) -> DomainConfig:
    """The domain for ``spec`` (images already resolved to paths) with its attached
    ``volumes``; its files live at ``paths``. ``root``: an EBS root volume booted as ``vda``
    (its serial the volume's) instead of the instance's overlay."""
    if spec.kernel is None or spec.images:
        raise InvalidSpec("the spec's images must be resolved to local paths first")
    root_disk = volume_disk(root) if root is not None else DiskConfig(
        source=str(paths.overlay),
        target_dev=ROOT_DEV,
        driver_type="qcow2",
        serial=spec.instance_id,
    )
    return DomainConfig(
        name=spec.instance_id,
        uuid=str(uuid.uuid5(DOMAIN_UUID_NAMESPACE, spec.instance_id)),
        virt_type=policy.virt_type,
        memory_mib=spec.memory_mib,
        vcpus=spec.vcpus,
        os=DirectKernelBootConfig(kernel=spec.kernel, initrd=spec.ramdisk, cmdline=spec.cmdline),
        disks=[
            root_disk,
            *(DiskConfig(source=str(paths.ephemeral(disk.name)), target_dev=disk.device,
                         driver_type="qcow2", serial=disk.name) for disk in spec.ephemeral),
            *(volume_disk(volume) for volume in volumes or []),
        ],
        interfaces=[BridgeInterfaceConfig(mac=spec.mac, bridge=policy.bridge, tap=spec.tap)],
        serial=PtySerialConfig(log_file=str(paths.console_log), append=True),
        acpi=True,
        tcg_tb_cache_mib=policy.tcg_tb_cache_mib if policy.virt_type == "qemu" else None,
        metadata={"instance-id": spec.instance_id, "private-ip": spec.private_ip},
    )
