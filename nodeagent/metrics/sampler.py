"""The sampler: every ``interval`` seconds one libvirt call reads the counters of every running
domain (``virConnectGetAllDomainStats``, in a worker thread of the :class:`Host`, never on the
event loop), and the differences to the previous reading become one sample per instance.

Rounds fall on multiples of the interval on the wall clock (a 60 s interval samples at every
full minute), so samples cover ``[07:00:00, 07:01:00)`` and line up with CloudWatch's periods;
``start`` and ``end`` are whole seconds and each sample starts where the previous one ended.
The first round after start only takes a reading. Domains that are not instances of this
agent are ignored; an instance whose domain stopped has no sample; one that started since the
previous round reports everything since it started (see :mod:`.samples`). When the hypervisor
cannot be read, the next successful round only takes a reading again (no sample spans the
gap, so no counter is attributed to the wrong interval).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from nodeagent.hypervisor import libvirt_api as lv
from nodeagent.hypervisor.designer import ROOT_DEV
from nodeagent.hypervisor.errors import HypervisorError
from nodeagent.hypervisor.host import Host
from nodeagent.metrics.samples import MetricTarget, Reading, Sample, parse_stats, sample
from nodeagent.spec import SpecStore
from nodeagent.volumes import AttachmentStore

log = logging.getLogger("ironbark.node.metrics")

Targets = Callable[[], Awaitable[list[MetricTarget]]]
Sink = Callable[[list[Sample]], None]


def stored_targets(store: SpecStore, attachments: AttachmentStore) -> list[MetricTarget]:
    """Every instance stored on the node, with its volumes (blocking: run it in a thread)."""
    targets = []
    for spec in store.all():
        volumes = attachments.load(store.paths(spec.instance_id))
        targets.append(MetricTarget(
            instance_id=spec.instance_id, vcpus=spec.vcpus,
            disks=(ROOT_DEV, *(v.target_dev for v in volumes)), nics=(spec.tap,),
            volumes={v.target_dev: v.volume_id for v in volumes}))
    return targets


class Sampler:
    def __init__(self, host: Host, targets: Targets, *, interval: float = 60.0,
                 keep: int = 60) -> None:
        self.host = host
        self.targets = targets
        self.interval = interval
        self.keep = keep
        self.sinks: list[Sink] = []
        self._readings: dict[str, Reading] = {}
        self._last: datetime | None = None
        self._recent: dict[str, deque[Sample]] = {}

    def recent(self, instance_id: str) -> list[Sample]:
        """The instance's last ``keep`` samples, oldest first."""
        return list(self._recent.get(instance_id, ()))

    async def read(self, targets: list[MetricTarget]) -> dict[str, Reading]:
        """The current reading of every target whose domain runs."""
        wanted = {target.instance_id: target for target in targets}
        readings: dict[str, Reading] = {}
        for name, domain_id, flat in await self.host.call(lv.all_domain_stats):
            target = wanted.get(name)
            if target is None:
                continue  # not one of ours
            reading = parse_stats(domain_id, flat)
            if reading is None:
                reading = await self._read_one(target)
            if reading is not None:
                readings[name] = reading
        return readings

    async def _read_one(self, target: MetricTarget) -> Reading | None:
        """Per-domain calls, for a driver whose bulk call reports no counters."""
        disks, nics = list(target.disks), list(target.nics)
        try:
            _name, domain_id, flat = await self.host.call(
                lambda c: lv.domain_stats(c, target.instance_id, disks, nics))
        except HypervisorError as exc:  # stopped or unplugged meanwhile: next round
            log.info("event=metrics_read_failed instance_id=%s error=%s",
                     target.instance_id, exc)
            return None
        return parse_stats(domain_id, flat)

    async def round(self, now: float | None = None) -> list[Sample]:
        """Read every instance; returns (and publishes) the samples since the last round."""
        targets = await self.targets()
        try:
            readings = await self.read(targets)
        except HypervisorError as exc:
            log.warning("event=metrics_round_failed error=%s", exc)
            self._readings, self._last = {}, None
            return []
        end = datetime.fromtimestamp(round(time.time() if now is None else now), UTC)
        if self._last is not None and end <= self._last:
            return []  # within the same second as the last round: nothing to report
        samples = []
        if self._last is not None:
            by_id = {target.instance_id: target for target in targets}
            samples = [sample(by_id[iid], self._readings.get(iid), reading, self._last, end)
                       for iid, reading in sorted(readings.items())]
        self._readings = {iid: reading.keeping_unread(self._readings.get(iid))
                          for iid, reading in readings.items()}
        self._last = end
        self._publish(samples, {target.instance_id for target in targets})
        return samples

    def _publish(self, samples: list[Sample], known: set[str]) -> None:
        for gone in set(self._recent) - known:
            del self._recent[gone]  # terminated
        for item in samples:
            self._recent.setdefault(item.instance_id, deque(maxlen=self.keep)).append(item)
        if samples:
            for sink in self.sinks:
                sink(samples)

    def delay(self, now: float | None = None) -> float:
        """Seconds until the next multiple of the interval on the wall clock."""
        now = time.time() if now is None else now
        return self.interval - now % self.interval

    async def run(self) -> None:
        """A reading now, then a round at every multiple of the interval, until cancelled."""
        while True:
            try:
                await self.round()
            except Exception:
                log.exception("event=metrics_round_crashed")
            await asyncio.sleep(self.delay())
