"""libvirt domain XML as plain config objects: fields in, lxml elements out, no policy.

What a guest should look like is decided in :mod:`.designer`; these classes only know how
libvirt spells it. Built with lxml's element API, never with string templates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

METADATA_NS = "https://ironbark.dev/xmlns/libvirt/instance/1"


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    element = etree.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = text
    return element


@dataclass(frozen=True)
class NbdDiskSource:
    """A network disk's NBD server: QEMU connects to ``host:port`` and opens export ``name``."""

    host: str
    port: int
    name: str


@dataclass(frozen=True)
class DiskConfig:
    """A file-backed disk (``<disk type='file'>``), or with ``nbd`` a network disk served
    over NBD (``<disk type='network'><source protocol='nbd'>``)."""

    source: str
    target_dev: str
    driver_type: str = "qcow2"
    bus: str = "virtio"
    serial: str | None = None
    cache: str = "none"
    nbd: NbdDiskSource | None = None

    def to_xml(self) -> etree._Element:
        disk = etree.Element("disk", type="file" if self.nbd is None else "network",
                             device="disk")
        _sub(disk, "driver", name="qemu", type=self.driver_type, cache=self.cache)
        if self.nbd is None:
            _sub(disk, "source", file=self.source)
        else:
            source = _sub(disk, "source", protocol="nbd", name=self.nbd.name)
            _sub(source, "host", name=self.nbd.host, port=str(self.nbd.port))
        _sub(disk, "target", dev=self.target_dev, bus=self.bus)
        if self.serial is not None:
            _sub(disk, "serial", self.serial)
        return disk


@dataclass(frozen=True)
class BridgeInterfaceConfig:
    """A NIC on a host bridge with a fixed MAC and a tap device name we chose."""

    mac: str
    bridge: str
    tap: str
    model: str = "virtio"

    def to_xml(self) -> etree._Element:
        iface = etree.Element("interface", type="bridge")
        _sub(iface, "mac", address=self.mac)
        _sub(iface, "source", bridge=self.bridge)
        _sub(iface, "target", dev=self.tap)
        _sub(iface, "model", type=self.model)
        return iface


@dataclass(frozen=True)
class PtySerialConfig:
    """Serial port 0 on a pty, logged to a file, plus the console that points at it."""

    log_file: str
    append: bool = False

    def to_xml(self) -> list[etree._Element]:
        serial = etree.Element("serial", type="pty")
        _sub(serial, "log", file=self.log_file, append="on" if self.append else "off")
        _sub(serial, "target", port="0")
        console = etree.Element("console", type="pty")
        _sub(console, "target", type="serial", port="0")
        return [serial, console]


@dataclass(frozen=True)
class DirectKernelBootConfig:
    """``<os>`` for direct kernel boot: kernel, optional initrd, command line."""

    kernel: str
    initrd: str | None = None
    cmdline: str | None = None
    arch: str = "x86_64"
    machine: str = "pc"

    def to_xml(self) -> etree._Element:
        os_ = etree.Element("os")
        _sub(os_, "type", "hvm", arch=self.arch, machine=self.machine)
        _sub(os_, "kernel", self.kernel)
        if self.initrd is not None:
            _sub(os_, "initrd", self.initrd)
        if self.cmdline is not None:
            _sub(os_, "cmdline", self.cmdline)
        return os_


@dataclass(frozen=True)
class DomainConfig:
    """A whole domain. ``metadata`` becomes ``<ironbark:instance>`` key/value children."""

    name: str
    virt_type: str
    memory_mib: int
    vcpus: int
    os: DirectKernelBootConfig
    disks: list[DiskConfig] = field(default_factory=list)
    interfaces: list[BridgeInterfaceConfig] = field(default_factory=list)
    serial: PtySerialConfig | None = None
    uuid: str | None = None
    acpi: bool = True
    tcg_tb_cache_mib: int | None = None
    on_poweroff: str = "destroy"
    on_reboot: str = "restart"
    on_crash: str = "destroy"
    metadata: dict[str, str] = field(default_factory=dict)

    def to_xml(self) -> etree._Element:
        dom = etree.Element("domain", type=self.virt_type)
        _sub(dom, "name", self.name)
        if self.uuid is not None:
            _sub(dom, "uuid", self.uuid)
        if self.metadata:
            holder = _sub(dom, "metadata")
            instance = etree.SubElement(
                holder, f"{{{METADATA_NS}}}instance", nsmap={"ironbark": METADATA_NS}
            )
            for key, value in self.metadata.items():
                _sub(instance, f"{{{METADATA_NS}}}{key}", value)
        _sub(dom, "memory", str(self.memory_mib), unit="MiB")
        _sub(dom, "vcpu", str(self.vcpus))
        dom.append(self.os.to_xml())
        features = _sub(dom, "features")
        if self.acpi:
            _sub(features, "acpi")
        if self.tcg_tb_cache_mib is not None:
            tcg = _sub(features, "tcg")
            _sub(tcg, "tb-cache", str(self.tcg_tb_cache_mib), unit="MiB")
        _sub(dom, "on_poweroff", self.on_poweroff)
        _sub(dom, "on_reboot", self.on_reboot)
        _sub(dom, "on_crash", self.on_crash)
        devices = _sub(dom, "devices")
        for disk in self.disks:
            devices.append(disk.to_xml())
        for iface in self.interfaces:
            devices.append(iface.to_xml())
        if self.serial is not None:
            devices.extend(self.serial.to_xml())
        return dom

    def to_string(self) -> str:
        return etree.tostring(self.to_xml(), pretty_print=True, encoding="unicode")
