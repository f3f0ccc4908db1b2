"""The metadata listener: who is asking (by source address only), IMDSv2 tokens, answers.

    GET /latest/meta-data/...      the tree of ``tree.py``
    GET /latest/user-data          the instance's user data (404 when it has none)
    PUT /latest/api/token          an IMDSv2 token (``X-aws-ec2-metadata-token-ttl-seconds``)

Tokens are sealed with the controller's secret key (instance id and expiry inside), so any
controller of the cloud accepts them and a token is useless from another instance. When the
instance's MetadataOptions say ``HttpTokens=required`` a GET without a valid token is 401;
``HttpEndpoint=disabled`` is 403 for everything.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from controller.config import Settings
from controller.db.models import Instance
from controller.ec2.instance_states import PENDING, RUNNING, STOPPING
from controller.ec2.node_spec import hostname
from controller.identity.secretbox import SecretBox, SecretBoxError
from controller.metadata.tree import InstanceFacts, lookup, meta_data

TOKEN_HEADER = "x-aws-ec2-metadata-token"
TTL_HEADER = "x-aws-ec2-metadata-token-ttl-seconds"
MAX_TTL = 21600


@dataclass(frozen=True)
class Caller:
    facts: InstanceFacts
    user_data: bytes | None
    tokens: str
    endpoint: str


def _caller(session: Session, address: str, region: str) -> Caller | None:
    instance = session.scalar(select(Instance).where(
        Instance.private_ip == address, Instance.state.in_((PENDING, RUNNING, STOPPING))))
    if instance is None:
        return None
    options = json.loads(instance.metadata_options)
    groups = tuple(g["GroupName"] for g in json.loads(instance.security_groups))
    facts = InstanceFacts(
        instance_id=instance.id, image_id=instance.image_id, launch_index=instance.launch_index,
        instance_type=instance.instance_type, private_ip=address, hostname=hostname(address),
        mac=instance.mac, zone=instance.availability_zone, region=region,
        reservation_id=instance.reservation_id, security_groups=groups,
        kernel_id=instance.kernel_id, ramdisk_id=instance.ramdisk_id,
        key_name=instance.key_name, public_key=instance.public_key)
    return Caller(facts, instance.user_data, options.get("HttpTokens", "optional"),
                  options.get("HttpEndpoint", "enabled"))


def _text(body: str | bytes, status: int = 200) -> Response:
    return Response(body, status, media_type="text/plain")


class MetadataService:
    def __init__(self, settings: Settings, sessions: sessionmaker[Session], box: SecretBox) -> None:
        self.settings = settings
        self.sessions = sessions
        self.box = box

    async def _who(self, request: Request) -> Caller | None:
        address = request.client.host if request.client else ""

        def read() -> Caller | None:
            with self.sessions() as session:
                return _caller(session, address, self.settings.region)

        return await run_in_threadpool(read)

    def _token_ok(self, caller: Caller, token: str | None) -> bool:
        if not token:
            return False
        try:
            instance_id, _, expiry = self.box.open(token.encode()).partition("|")
        except (SecretBoxError, ValueError, UnicodeError):
            return False
        return instance_id == caller.facts.instance_id and float(expiry) > time.time()

    async def token(self, request: Request) -> Response:
        caller = await self._who(request)
        if caller is None:
            return _text("Not Found", 404)
        if caller.endpoint != "enabled":
            return _text("Forbidden", 403)
        if "x-forwarded-for" in request.headers:
            return _text("Forbidden", 403)
        ttl = request.headers.get(TTL_HEADER, "")
        if not ttl.isdigit() or not 1 <= int(ttl) <= MAX_TTL:
            return _text("Bad Request", 400)
        sealed = self.box.seal(f"{caller.facts.instance_id}|{time.time() + int(ttl)}")
        return Response(sealed.decode(), 200, media_type="text/plain",
                        headers={TTL_HEADER: ttl})

    async def get(self, request: Request) -> Response:
        caller = await self._who(request)
        if caller is None:
            return _text("Not Found", 404)
        if caller.endpoint != "enabled":
            return _text("Forbidden", 403)
        token = request.headers.get(TOKEN_HEADER)
        if token is not None and not self._token_ok(caller, token):
            return _text("Unauthorized", 401)
        if token is None and caller.tokens == "required":
            return _text("Unauthorized", 401)
        return self._answer(caller, request.url.path)

    def _answer(self, caller: Caller, path: str) -> Response:
        if path in ("/", ""):
            return _text("latest")
        if path in ("/latest", "/latest/"):
            return _text("dynamic\nmeta-data\nuser-data")
        if path == "/latest/user-data":
            if caller.user_data is None:
                return _text("Not Found", 404)
            return Response(caller.user_data, 200, media_type="application/octet-stream")
        if path == "/latest/meta-data":
            path = "/latest/meta-data/"
        if path.startswith("/latest/meta-data/"):
            found = lookup(meta_data(caller.facts), path[len("/latest/meta-data/"):],
                           caller.facts.key_name)
            if found is not None:
                return _text(found)
        return PlainTextResponse("Not Found", 404)

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/latest/api/token", self.token, methods=["PUT"]),
            Route("/{path:path}", self.get, methods=["GET", "HEAD"]),
        ])
