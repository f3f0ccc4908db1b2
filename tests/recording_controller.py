"""A stand-in for the controller's node endpoints that records what node agents send.

A real HTTP server (a thread in the test process) speaking the controller's side of
registration, heartbeats and the metrics wire contract (``POST /_ironbark/nodes/metrics``,
docs/node-agent.md): it checks the cluster token and the node credential as the controller
does (403), rejects malformed metrics bodies (400) and can be told to fail the next requests,
so the agent's real ``ControllerLink`` and shipper are tested against real HTTP.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CLUSTER_TOKEN = "cluster-token-for-tests"
NODE_ID = "node-0123456789abcdef0"
SAMPLE_FIELDS = {"instance_id", "start", "end", "vcpus", "cpu_time_ns", "disk_read_bytes",
                 "disk_write_bytes", "disk_read_ops", "disk_write_ops", "net_in_bytes",
                 "net_out_bytes", "net_in_packets", "net_out_packets", "volumes"}
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def malformed(body: Any) -> str | None:
    """Why a metrics body breaks the contract, or None."""
    if not isinstance(body, dict) or set(body) != {"node_id", "samples"}:
        return "body must be {node_id, samples}"
    for item in body["samples"]:
        if not isinstance(item, dict) or set(item) != SAMPLE_FIELDS:
            return f"sample fields: {sorted(item) if isinstance(item, dict) else item!r}"
        if not (STAMP.match(item["start"]) and STAMP.match(item["end"])
                and item["start"] < item["end"]):
            return "start/end"
        counters = [v for k, v in item.items() if k not in ("instance_id", "start", "end",
                                                             "volumes")]
        counters += [v for vol in item["volumes"].values() for v in vol.values()]
        if not all(isinstance(v, int) and v >= 0 for v in counters):
            return "counters must be non-negative integers"
    return None


@dataclass
class RecordingController:
    credential: str = "credential-1"
    registrations: int = 0
    heartbeats: int = 0
    batches: list[dict[str, Any]] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)  # statuses for the next metrics POSTs
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    @property
    def samples(self) -> list[dict[str, Any]]:
        with self.lock:
            return [item for batch in self.batches for item in batch["samples"]]

    def wait_for(self, count: int, deadline: float = 20.0) -> list[dict[str, Any]]:
        """Wait until at least ``count`` samples arrived; returns them all."""
        end = time.monotonic() + deadline
        while len(got := self.samples) < count:
            assert time.monotonic() < end, f"{len(got)} samples of {count} within {deadline} s"
            time.sleep(0.02)
        return got

    def answer(self, path: str, auth: str, body: Any) -> tuple[int, dict[str, Any]]:
        with self.lock:
            if path == "/_ironbark/nodes/register":
                if auth != f"Bearer {CLUSTER_TOKEN}":
                    return 403, {"error": "Forbidden"}
                self.registrations += 1
                self.credential = f"credential-{self.registrations}"
                return 200, {"node_id": NODE_ID, "credential": self.credential,
                             "heartbeat_seconds": 3600}
            if auth != f"Bearer {self.credential}":
                return 403, {"error": "Forbidden"}
            if path == f"/_ironbark/nodes/{NODE_ID}/heartbeat":
                self.heartbeats += 1
                return 200, {"node_id": NODE_ID, "state": "healthy", "heartbeat_seconds": 3600}
            if path != "/_ironbark/nodes/metrics":
                return 404, {"error": "NotFound"}
            if self.fail_next:
                status = self.fail_next.pop(0)
                return status, {"error": {"code": "Injected", "message": str(status)}}
            problem = malformed(body)
            if problem is not None or body["node_id"] != NODE_ID:
                return 400, {"error": {"code": "BadRequest", "message": problem or "node"}}
            self.batches.append(body)
            self.authorizations.append(auth)
            return 200, {"accepted": len(body["samples"])}


@contextmanager
def recording_controller() -> Iterator[RecordingController]:
    controller = RecordingController()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            status, reply = controller.answer(self.path, self.headers.get("Authorization", ""),
                                              body)
            data = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    controller.url = f"http://127.0.0.1:{server.server_address[1]}/"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield controller
    finally:
        server.shutdown()
        server.server_close()
