"""Readings and samples: libvirt's flat statistics in, the wire contract's deltas out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from nodeagent.metrics.samples import (
    BlockIO,
    Disk,
    MetricTarget,
    NetIO,
    Reading,
    counter,
    parse_stats,
    sample,
)

T0 = datetime(2026, 11, 21, 7, 0, tzinfo=UTC)
T1 = datetime(2026, 11, 21, 7, 1, tzinfo=UTC)
TARGET = MetricTarget("i-0123456789abcdef0", vcpus=2, disks=("vda", "vdf"), nics=("ib-1",),
                      volumes={"vdf": "vol-0123456789abcdef0"})


def qemu_stats(cpu: int, root: tuple[int, int, int, int], vol: tuple[int, int, int, int],
               rx: tuple[int, int], tx: tuple[int, int]) -> dict[str, Any]:
    """What ``virConnectGetAllDomainStats`` returns for a QEMU guest with a root disk, a
    volume and one tap (the keys of libvirt 9.0, extra keys included)."""
    stats: dict[str, Any] = {
        "state.state": 1, "state.reason": 1, "cpu.time": cpu, "cpu.user": cpu // 2,
        "cpu.system": cpu // 4, "net.count": 1, "net.0.name": "ib-1",
        "net.0.rx.bytes": rx[0], "net.0.rx.pkts": rx[1], "net.0.rx.errs": 0,
        "net.0.rx.drop": 0, "net.0.tx.bytes": tx[0], "net.0.tx.pkts": tx[1],
        "net.0.tx.errs": 0, "net.0.tx.drop": 0, "block.count": 2,
    }
    for i, (name, path, io) in enumerate([("vda", "/s/i/root.qcow2", root),
                                          ("vdf", "/vols/vol-1.raw", vol)]):
        stats.update({
            f"block.{i}.name": name, f"block.{i}.path": path, f"block.{i}.backingIndex": 0,
            f"block.{i}.rd.reqs": io[2], f"block.{i}.rd.bytes": io[0],
            f"block.{i}.rd.times": 123, f"block.{i}.wr.reqs": io[3],
            f"block.{i}.wr.bytes": io[1], f"block.{i}.wr.times": 45,
            f"block.{i}.fl.reqs": 3, f"block.{i}.fl.times": 6,
            f"block.{i}.allocation": 1 << 20, f"block.{i}.capacity": 64 << 20,
            f"block.{i}.physical": 1 << 20,
        })
    return stats


def test_counter_deltas_new_and_restarted_counters() -> None:
    assert counter(100, 150) == 50
    assert counter(100, 100) == 0
    assert counter(None, 70) == 70  # new: everything since it started
    assert counter(100, 30) == 30  # went backwards: restarted from zero, report the new value


def test_parse_stats_reads_cpu_disks_and_interfaces_from_the_guests_point_of_view() -> None:
    reading = parse_stats(7, qemu_stats(5_000, (10, 20, 1, 2), (30, 40, 3, 4), (900, 9),
                                        (100, 1)))
    assert reading is not None
    assert reading.domain_id == 7 and reading.cpu_time_ns == 5_000
    assert reading.disks == {"vda": Disk("/s/i/root.qcow2", BlockIO(10, 20, 1, 2)),
                             "vdf": Disk("/vols/vol-1.raw", BlockIO(30, 40, 3, 4))}
    # libvirt's rx of a bridge/tap interface is what the guest received: NetworkIn
    assert reading.nics == {"ib-1": NetIO(in_bytes=900, out_bytes=100, in_packets=9,
                                          out_packets=1)}
    assert reading.unread == frozenset()


def test_parse_stats_without_cpu_time_is_none() -> None:
    assert parse_stats(1, {"state.state": 1, "state.reason": 0}) is None


def test_sample_splits_own_disks_from_volumes_and_subtracts() -> None:
    before = parse_stats(7, qemu_stats(1_000, (10, 20, 1, 2), (30, 40, 3, 4), (900, 9),
                                       (100, 1)))
    now = parse_stats(7, qemu_stats(61_000, (110, 220, 11, 22), (330, 440, 33, 44),
                                    (1900, 19), (300, 3)))
    assert before is not None and now is not None
    got = sample(TARGET, before, now, T0, T1)
    assert got.cpu_time_ns == 60_000
    assert got.disk == BlockIO(100, 200, 10, 20)
    assert got.volumes == {"vol-0123456789abcdef0": BlockIO(300, 400, 30, 40)}
    assert got.net == NetIO(in_bytes=1000, out_bytes=200, in_packets=10, out_packets=2)
    assert got.wire() == {
        "instance_id": "i-0123456789abcdef0", "start": "2026-11-21T07:00:00Z",
        "end": "2026-11-21T07:01:00Z", "vcpus": 2, "cpu_time_ns": 60_000,
        "disk_read_bytes": 100, "disk_write_bytes": 200, "disk_read_ops": 10,
        "disk_write_ops": 20, "net_in_bytes": 1000, "net_out_bytes": 200,
        "net_in_packets": 10, "net_out_packets": 2,
        "volumes": {"vol-0123456789abcdef0": {"read_bytes": 300, "write_bytes": 400,
                                              "read_ops": 30, "write_ops": 40}},
    }


def test_a_domain_started_again_counts_from_zero() -> None:
    before = Reading(7, 900_000, {"vda": Disk("/r", BlockIO(500, 500, 5, 5))},
                     {"ib-1": NetIO(500, 500, 5, 5)})
    # QEMU restarted (new domain id) and already burned more than before: still all new
    now = Reading(8, 1_000_000, {"vda": Disk("/r", BlockIO(600, 700, 6, 7))},
                  {"ib-1": NetIO(800, 900, 8, 9)})
    got = sample(TARGET, before, now, T0, T1)
    assert got.cpu_time_ns == 1_000_000
    assert got.disk == BlockIO(600, 700, 6, 7)
    assert got.net == NetIO(800, 900, 8, 9)


def test_a_domain_new_since_the_last_reading_reports_everything() -> None:
    now = Reading(3, 42, {"vda": Disk("/r", BlockIO(1, 2, 3, 4))}, {"ib-1": NetIO(5, 6, 7, 8)})
    got = sample(TARGET, None, now, T0, T1)
    assert (got.cpu_time_ns, got.disk, got.net) == (42, BlockIO(1, 2, 3, 4), NetIO(5, 6, 7, 8))


def test_hot_plugged_and_replaced_volumes_count_from_zero() -> None:
    before = Reading(7, 10, {"vda": Disk("/r", BlockIO(10, 10, 1, 1)),
                             "vdf": Disk("/vols/old", BlockIO(999, 999, 99, 99))})
    now = Reading(7, 20, {"vda": Disk("/r", BlockIO(10, 10, 1, 1)),
                          "vdf": Disk("/vols/new", BlockIO(1000, 1000, 100, 100)),
                          "vdg": Disk("/vols/g", BlockIO(5, 6, 7, 8))})
    target = MetricTarget("i-0123456789abcdef0", 1,
                          volumes={"vdf": "vol-000000000000000f0", "vdg": "vol-000000000000000a0"})
    got = sample(target, before, now, T0, T1)
    assert got.disk == BlockIO()
    assert got.volumes == {"vol-000000000000000f0": BlockIO(1000, 1000, 100, 100),
                           "vol-000000000000000a0": BlockIO(5, 6, 7, 8)}


def test_a_disk_without_a_volume_record_is_the_instances_own() -> None:
    now = Reading(7, 0, {"vda": Disk("/r", BlockIO(1, 1, 1, 1)),
                         "vdc": Disk("/eph", BlockIO(2, 2, 2, 2))})
    got = sample(MetricTarget("i-0123456789abcdef0", 1), None, now, T0, T1)
    assert got.disk == BlockIO(3, 3, 3, 3) and got.volumes == {}


def test_counter_going_backwards_reports_the_new_value() -> None:
    before = Reading(7, 500, {"vda": Disk("/r", BlockIO(100, 100, 10, 10))},
                     {"ib-1": NetIO(100, 100, 10, 10)})
    now = Reading(7, 200, {"vda": Disk("/r", BlockIO(40, 150, 4, 15))},
                  {"ib-1": NetIO(30, 130, 3, 13)})
    got = sample(TARGET, before, now, T0, T1)
    assert got.cpu_time_ns == 200
    assert got.disk == BlockIO(40, 50, 4, 5)
    assert got.net == NetIO(30, 30, 3, 3)


def test_unread_disks_keep_their_previous_counters_for_the_next_round() -> None:
    flat = qemu_stats(5_000, (10, 20, 1, 2), (30, 40, 3, 4), (0, 0), (0, 0))
    for key in ("rd.reqs", "rd.bytes", "wr.reqs", "wr.bytes"):
        del flat[f"block.1.{key}"]  # NOWAIT: QEMU's monitor was busy
    busy = parse_stats(7, flat)
    assert busy is not None and busy.unread == {"vdf"} and set(busy.disks) == {"vda"}
    before = Reading(7, 1_000, {"vda": Disk("/s/i/root.qcow2", BlockIO()),
                                "vdf": Disk("/vols/vol-1.raw", BlockIO(10, 10, 1, 1))})
    assert sample(TARGET, before, busy, T0, T1).volumes == {}  # not this time...
    kept = busy.keeping_unread(before)
    assert kept.disks["vdf"] == before.disks["vdf"]
    later = parse_stats(7, qemu_stats(9_000, (10, 20, 1, 2), (30, 40, 3, 4), (0, 0), (0, 0)))
    assert later is not None
    # ... but at the next reading, counted once from the last known counters
    assert sample(TARGET, kept, later, T0, T1).volumes == {
        "vol-0123456789abcdef0": BlockIO(20, 30, 2, 3)}
    assert busy.keeping_unread(Reading(8, 0)) is busy  # another QEMU: nothing to keep
