"""The node's guest network: a host bridge, dnsmasq with static leases, nftables rules.

Set-up is idempotent (run it at every agent start); tear-down removes all of it. Guests are
added and removed one at a time: a ``MAC,IP,name`` line in dnsmasq's hosts file plus the tap's
anti-spoofing chain. dnsmasq keeps no lease file (``--leasefile-ro``; every address is static),
so removing a guest (hosts file rewritten, dnsmasq restarted) forgets its lease too, and the
address can go to the next instance at once. A SIGHUP suffices for additions.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import signal
from dataclasses import dataclass
from pathlib import Path

from nodeagent.network import nft
from nodeagent.network.commands import NetworkError, run
from nodeagent.spec import InstanceSpec, InvalidSpec


@dataclass(frozen=True)
class BridgeSettings:
    bridge: str = "ibr0"
    gateway_cidr: str = "10.77.0.1/24"
    metadata_port: int = 8775

    @property
    def gateway(self) -> str:
        return str(ipaddress.ip_interface(self.gateway_cidr).ip)

    @property
    def network(self) -> ipaddress.IPv4Network:
        net = ipaddress.ip_interface(self.gateway_cidr).network
        assert isinstance(net, ipaddress.IPv4Network)
        return net


@dataclass(frozen=True)
class GuestPort:
    """One guest's place on the bridge."""

    name: str
    mac: str
    ip: str
    tap: str


class BridgeNetwork:
    """Owns the bridge, its dnsmasq and its nftables tables; state files under ``state_dir``."""

    def __init__(self, settings: BridgeSettings, state_dir: Path) -> None:
        self.settings = settings
        self.dir = state_dir
        self._lock = asyncio.Lock()  # guards the hosts file and dnsmasq restarts, no libvirt

    @property
    def hosts_file(self) -> Path:
        return self.dir / "dhcp-hosts"

    @property
    def guests_file(self) -> Path:
        return self.dir / "guests.json"

    @property
    def pid_file(self) -> Path:
        return self.dir / "dnsmasq.pid"

    async def setup(self) -> None:
        """Bridge up with the gateway address, dnsmasq running, nftables tables in place."""
        s = self.settings
        self.dir.mkdir(parents=True, exist_ok=True)
        code, _ = await run("ip", "link", "show", "dev", s.bridge, check=False)
        if code != 0:
            await run("ip", "link", "add", s.bridge, "type", "bridge")
        await run("ip", "addr", "replace", s.gateway_cidr, "dev", s.bridge)
        await run("ip", "link", "set", s.bridge, "up")
        async with self._lock:
            self._write_hosts(self._load_guests())
            if self._dnsmasq_pid() is None:
                await self._start_dnsmasq()
        table = nft.table_name(s.bridge)
        guard_exists = (await run("nft", "list", "table", "bridge", table, check=False))[0] == 0
        script = nft.setup_script(
            s.bridge, s.gateway, s.metadata_port, guard_table=not guard_exists
        )
        await run("nft", "-f", "-", stdin=script)

    async def teardown(self) -> None:
        """Stop dnsmasq, delete the nftables tables and the bridge, forget every guest."""
        s = self.settings
        async with self._lock:
            await self._stop_dnsmasq()
            for path in (self.hosts_file, self.guests_file):
                path.unlink(missing_ok=True)
        table = nft.table_name(s.bridge)
        ip_t = (await run("nft", "list", "table", "ip", table, check=False))[0] == 0
        br_t = (await run("nft", "list", "table", "bridge", table, check=False))[0] == 0
        if ip_t or br_t:
            await run(
                "nft",
                "-f",
                "-",
                stdin=nft.teardown_script(s.bridge, ip_table=ip_t, bridge_table=br_t),
            )
        if (await run("ip", "link", "show", "dev", s.bridge, check=False))[0] == 0:
            await run("ip", "link", "del", s.bridge)

    async def add_guest(self, port: GuestPort) -> None:
        """Static lease and anti-spoofing for one guest (idempotent). An address outside the
        bridge's network is a spec this node can never run (the controller's ``private_subnet``
        and the node's ``gateway_cidr`` disagree): refused as a bad spec, not a retryable
        failure, so the launch fails at once instead of at the controller's launch deadline."""
        if ipaddress.ip_address(port.ip) not in self.settings.network:
            raise InvalidSpec(f"private_ip {port.ip} is not in this node's guest network "
                              f"{self.settings.network}")
        async with self._lock:
            guests = self._load_guests()
            if guests.get(port.name) != port:
                clash = [
                    g
                    for g in guests.values()
                    if g.name != port.name
                    and (g.ip == port.ip or g.mac == port.mac or g.tap == port.tap)
                ]
                if clash:
                    raise NetworkError(
                        f"{port.name}: address, MAC or tap in use by {clash[0].name}"
                    )
                guests[port.name] = port
                self._save_guests(guests)
                self._write_hosts(guests)
                self._reload_dnsmasq()
        guard = nft.Guard(tap=port.tap, mac=port.mac, ip=port.ip)
        await run("nft", "-f", "-", stdin=nft.guard_script(self.settings.bridge, guard))

    async def remove_guest(self, name: str) -> None:
        """Drop the guest's lease and its anti-spoofing chain (idempotent)."""
        async with self._lock:
            guests = self._load_guests()
            port = guests.pop(name, None)
            if port is None:
                return
            self._save_guests(guests)
            self._write_hosts(guests)
            await self._stop_dnsmasq()
            await self._start_dnsmasq()
        table, bridge = nft.table_name(self.settings.bridge), self.settings.bridge
        _, listing = await run("nft", "-j", "list", "table", "bridge", table, check=False)
        chain = f"guest_{port.tap.replace('-', '_')}"
        script = nft.unguard_script(
            bridge, port.tap, in_map=f'"{port.tap}"' in listing, has_chain=f'"{chain}"' in listing
        )
        if script.strip():
            await run("nft", "-f", "-", stdin=script)

    def guests(self) -> dict[str, GuestPort]:
        return self._load_guests()

    # --- state files and dnsmasq -----------------------------------------------------------

    def _load_guests(self) -> dict[str, GuestPort]:
        try:
            raw = json.loads(self.guests_file.read_text())
        except FileNotFoundError:
            return {}
        return {name: GuestPort(**fields) for name, fields in raw.items()}

    def _save_guests(self, guests: dict[str, GuestPort]) -> None:
        data = {name: vars(port) for name, port in sorted(guests.items())}
        _atomic_write(self.guests_file, json.dumps(data, indent=2))

    def _write_hosts(self, guests: dict[str, GuestPort]) -> None:
        lines = [f"{g.mac},{g.ip},{g.name}\n" for g in sorted(guests.values(), key=lambda g: g.ip)]
        _atomic_write(self.hosts_file, "".join(lines))

    def _dnsmasq_pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
            os.kill(pid, 0)
        except (FileNotFoundError, ValueError, ProcessLookupError):
            return None
        cmdline = Path(f"/proc/{pid}/cmdline")
        try:
            if b"dnsmasq" not in cmdline.read_bytes():
                return None
        except OSError:
            return None
        return pid

    def _reload_dnsmasq(self) -> None:
        pid = self._dnsmasq_pid()
        if pid is not None:
            os.kill(pid, signal.SIGHUP)

    async def _start_dnsmasq(self) -> None:
        s = self.settings
        net = s.network
        hosts = list(net.hosts())
        await run(
            "dnsmasq",
            "--conf-file=/dev/null",
            "--port=0",
            f"--interface={s.bridge}",
            "--bind-interfaces",
            "--except-interface=lo",
            f"--dhcp-range={hosts[1]},static,{net.netmask},1h",
            f"--dhcp-hostsfile={self.hosts_file}",
            f"--dhcp-option=option:router,{s.gateway}",
            "--dhcp-authoritative",
            "--leasefile-ro",
            f"--pid-file={self.pid_file}",
            f"--log-facility={self.dir / 'dnsmasq.log'}",
            "--log-dhcp",
            # It re-reads the hosts file from the node's (private) state directory on SIGHUP,
            # after dropping privileges: as "nobody" it could not.
            "--user=root",
            "--group=root",
        )

    async def _stop_dnsmasq(self) -> None:
        pid = self._dnsmasq_pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            await asyncio.sleep(0.05)
        self.pid_file.unlink(missing_ok=True)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


class SpecNetwork(BridgeNetwork):
    """The bridge network as the instance manager sees it (one guest per instance spec)."""

    async def add_guest_for(self, spec: InstanceSpec) -> None:
        await self.add_guest(GuestPort(spec.instance_id, spec.mac, spec.private_ip, spec.tap))

    async def remove_guest_for(self, spec: InstanceSpec) -> None:
        await self.remove_guest(spec.instance_id)
