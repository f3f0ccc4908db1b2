"""CloudWatch: GetMetricStatistics over a day of 1-minute data, and PutMetricData ingestion.

Run by hand: ``.venv/bin/python bench/bench_cloudwatch.py [--calls 20] [--puts 20]``. The server
(``ironbark up``, default SQLite database) runs pinned to CPU 0; the client runs here.

Seeding (not timed), in this process on the server's database through the same storage code
the API uses (``controller.cloudwatch.store.put``, with its write-time 5-minute and 1-hour
rollups): a day of 1-minute AWS/EC2 CPUUtilization for one instance (``InstanceId``), and for
the dimensionless aggregate of 1,000 instances (each minute's period merges 1,000 values, so
SampleCount is 1,000 and the percentile sketch holds them all). ``--fill`` also stores the
other 999 instances' own day of 1-minute rows (1.4 M rows, inserted in bulk) so the table is as
large as it would be.

1. GetMetricStatistics with boto3 (rpc-v2-cbor), StartTime..EndTime = the seeded day:
   Period 60 (1,440 datapoints, the most one call may return) and 3600 (24), with the five
   statistics, and with ExtendedStatistics p99 (percentiles from the sketches): best and median
   of ``--calls`` calls each, for the one instance and for the aggregate.
2. PutMetricData ingestion: ``--puts`` calls of 1,000 datapoints (the per-call maximum: 100
   metrics x 10 dimension values, one Value each), sequentially from one client and then from
   4 concurrent clients; datapoints/s.
"""

from __future__ import annotations

import argparse
import functools
import random
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.servers import ironbark_server
from controller.cloudwatch.store import MetricKey, Point, StatSet, metric_ids, put
from controller.db.engine import make_engine, make_session_factory, transaction
from controller.db.models import CwDatapoint

DAY = 1440
INSTANCES = 1000


def client(endpoint: str, key: str, secret: str) -> Any:
    return boto3.client("cloudwatch", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=key, aws_secret_access_key=secret,
                        config=Config(retries={"max_attempts": 1}, read_timeout=600))


def seed(data_dir: Path, account_id: str, start: int, fill: bool) -> None:
    engine = make_engine(f"sqlite:///{data_dir / 'ironbark.db'}")
    sessions = make_session_factory(engine)
    rng = random.Random(1)
    one = MetricKey.of("AWS/EC2", "CPUUtilization", [("InstanceId", "i-00000000000000000")])
    aggregate = MetricKey.of("AWS/EC2", "CPUUtilization", [])
    for hour in range(24):
        points = []
        for minute in range(hour * 60, hour * 60 + 60):
            ts = start + minute * 60
            points.append(Point(one, ts, "Percent", StatSet.of_values([rng.uniform(0, 100)],
                                                                      [1.0])))
            values = [rng.uniform(0, 100) for _ in range(INSTANCES)]
            points.append(Point(aggregate, ts, "Percent",
                                StatSet.of_values(values, [1.0] * INSTANCES)))
        with transaction(sessions) as session:
            put(session, account_id, points, start + DAY * 60)
    if fill:
        _fill(sessions, account_id, start, rng)
    engine.dispose()


def _fill(sessions: Any, account_id: str, start: int, rng: random.Random) -> None:
    keys = [MetricKey.of("AWS/EC2", "CPUUtilization", [("InstanceId", f"i-{n:017x}")])
            for n in range(1, INSTANCES)]
    with transaction(sessions) as session:
        ids = metric_ids(session, account_id, keys, start + DAY * 60)
    for key in keys:
        rows = []
        for minute in range(DAY):
            value = rng.uniform(0, 100)
            rows.append({"metric_id": ids[key], "resolution": 60, "ts": start + minute * 60,
                         "unit": "Percent", "sample_count": 1.0, "sum": value,
                         "minimum": value, "maximum": value, "sketch": None})
        with transaction(sessions) as session:
            session.execute(insert(CwDatapoint), rows)


def timed(call: Any, count: int) -> tuple[float, float]:
    times = []
    for _ in range(count):
        began = time.perf_counter()
        call()
        times.append(time.perf_counter() - began)
    return min(times), statistics.median(times)


def bench_reads(cw: Any, start: datetime, calls: int) -> None:
    print(f"{'GetMetricStatistics, one day':46}{'best ms':>9}{'median ms':>11}{'points':>8}")
    for label, dims in (("one instance", [{"Name": "InstanceId",
                                           "Value": "i-00000000000000000"}]),
                        ("aggregate of 1,000 instances", [])):
        for period in (60, 3600):
            for stats in ({"Statistics": ["SampleCount", "Average", "Sum", "Minimum",
                                          "Maximum"]}, {"ExtendedStatistics": ["p99"]}):
                call = functools.partial(
                    cw.get_metric_statistics, Namespace="AWS/EC2", MetricName="CPUUtilization",
                    Dimensions=dims, StartTime=start, EndTime=start + timedelta(days=1),
                    Period=period, **stats)
                points = len(call()["Datapoints"])
                best, median = timed(call, calls)
                name = f"{label}, {period}s, {'p99' if 'ExtendedStatistics' in stats else '5 stats'}"
                print(f"{name:46}{best * 1e3:>9.1f}{median * 1e3:>11.1f}{points:>8}")


def bench_puts(endpoint: str, key: str, secret: str, puts: int) -> None:
    def batch(tag: str) -> list[dict[str, Any]]:
        return [{"MetricName": f"m{m}", "Dimensions": [{"Name": "host", "Value": f"{tag}{d}"}],
                 "Value": float(m + d), "Unit": "Count"} for m in range(100) for d in range(10)]

    def run(worker: int, count: int) -> None:
        cw = client(endpoint, key, secret)
        for n in range(count):
            cw.put_metric_data(Namespace=f"Bench/{worker}", MetricData=batch(f"h{n % 3}-"))

    for workers in (1, 4):
        began = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(run, range(workers), [puts // workers] * workers))
        elapsed = time.perf_counter() - began
        total = (puts // workers) * workers * 1000
        print(f"PutMetricData, {workers} client(s): {total} datapoints in {elapsed:.2f} s = "
              f"{total / elapsed:,.0f} datapoints/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--puts", type=int, default=20)
    parser.add_argument("--fill", action="store_true")
    args = parser.parse_args()
    now = int(time.time())
    start = now - now % 3600 - 86400
    with tempfile.TemporaryDirectory() as tmp, ironbark_server(Path(tmp)) as server:
        import json

        account = json.loads((Path(tmp) / "admin-credentials.json").read_text())["account_id"]
        began = time.perf_counter()
        seed(Path(tmp), account, start, args.fill)
        print(f"seeded in {time.perf_counter() - began:.1f} s")
        cw = client(server.endpoint, server.access_key_id, server.secret_access_key)
        bench_reads(cw, datetime.fromtimestamp(start, UTC), args.calls)
        bench_puts(server.endpoint, server.access_key_id, server.secret_access_key, args.puts)


if __name__ == "__main__":
    main()
