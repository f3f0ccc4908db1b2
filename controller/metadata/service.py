"""The metadata listener: who is asking (by source address only), IMDSv2 tokens, answers.

    GET /latest/meta-data/...      the tree of ``tree.py``
    GET /latest/user-data          the instance's user data (404 when it has none)
    GET /latest/dynamic/instance-identity/{document,signature,pkcs7,rsa2048}
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
from starlette.responses import Response
from starlette.routing import Route

from controller.config import Settings
from controller.db.models import Image, Instance, Volume
from controller.ec2.instance_states import PENDING, RUNNING, STOPPING
from controller.ec2.node_spec import hostname
from controller.identity.secretbox import SecretBox, SecretBoxError
from controller.metadata.identity_signer import IdentitySigner
from controller.metadata.tree import InstanceFacts, identity_document, lookup, meta_data

TOKEN_HEADER = "x-aws-ec2-metadata-token"
TTL_HEADER = "x-aws-ec2-metadata-token-ttl-seconds"
MAX_TTL = 21600
IDENTITY = ("document", "pkcs7", "rsa2048", "signature")
# EC2's body for a path that names nothing (served as text/html, like EC2).
NOT_FOUND = """<?xml version="1.0" encoding="iso-8859-1"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"
\t"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">
 <head>
  <title>404 - Not Found</title>
 </head>
 <body>
  <h1>404 - Not Found</h1>
 </body>
</html>
"""


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
    groups = json.loads(instance.security_groups)
    image = session.get(Image, instance.image_id)
    ephemeral = tuple((m["VirtualName"], m["DeviceName"])  # the disks the launch honoured
                      for m in json.loads(instance.block_device_mappings))
    ebs = tuple(d or "" for d in session.scalars(select(Volume.device).where(
        Volume.instance_id == instance.id, Volume.attach_state == "attached",
        Volume.device.is_not(None)).order_by(Volume.attach_time, Volume.id)))
    facts = InstanceFacts(
        instance_id=instance.id, image_id=instance.image_id, launch_index=instance.launch_index,
        instance_type=instance.instance_type, private_ip=address, hostname=hostname(address),
        mac=instance.mac, zone=instance.availability_zone, region=region,
        reservation_id=instance.reservation_id,
        security_groups=tuple(g["GroupName"] for g in groups),
        kernel_id=instance.kernel_id, ramdisk_id=instance.ramdisk_id,
        key_name=instance.key_name, public_key=instance.public_key,
        account_id=instance.account_id, architecture=instance.architecture,
        image_location=image.image_location if image else "(unknown)",
        root_device_name=instance.root_device_name or "/dev/sda1", ephemeral=ephemeral,
        group_ids=tuple(g["GroupId"] for g in groups if g.get("GroupId")), ebs=ebs,
        pending_time=instance.launch_time.strftime("%Y-%m-%dT%H:%M:%SZ"))
    return Caller(facts, instance.user_data, options.get("HttpTokens", "optional"),
                  options.get("HttpEndpoint", "enabled"))


def _text(body: str | bytes, status: int = 200) -> Response:
    return Response(body, status, media_type="text/plain")


def _not_found() -> Response:
    return Response(NOT_FOUND, 404, media_type="text/html")


class MetadataService:
    def __init__(self, settings: Settings, sessions: sessionmaker[Session], box: SecretBox) -> None:
        self.settings = settings
        self.sessions = sessions
        self.box = box
        self._signer: IdentitySigner | None = None

    def signer(self) -> IdentitySigner:
        """The cloud's identity key, generated into the data directory on first use."""
        if self._signer is None:
            self._signer = IdentitySigner.from_data_dir(self.settings.data_dir,
                                                        self.settings.region)
        return self._signer

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
            return _not_found()
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
            return _not_found()
        if caller.endpoint != "enabled":
            return _text("Forbidden", 403)
        token = request.headers.get(TOKEN_HEADER)
        if token is not None and not self._token_ok(caller, token):
            return _text("Unauthorized", 401)
        if token is None and caller.tokens == "required":
            return _text("Unauthorized", 401)
        path = request.url.path
        if path.startswith("/latest/dynamic"):
            return await run_in_threadpool(self._dynamic, caller, path)
        return self._answer(caller, path)

    def _dynamic(self, caller: Caller, path: str) -> Response:
        rest = path[len("/latest/dynamic"):]
        if rest in ("", "/"):
            return _text("instance-identity/")
        if rest in ("/instance-identity", "/instance-identity/"):
            return _text("\n".join(IDENTITY))
        document = identity_document(caller.facts)
        if rest == "/instance-identity/document":
            return _text(document)
        if rest == "/instance-identity/signature":
            return _text(self.signer().signature(document))
        if rest in ("/instance-identity/pkcs7", "/instance-identity/rsa2048"):
            return _text(self.signer().pkcs7(document))
        return _not_found()

    def _answer(self, caller: Caller, path: str) -> Response:
        if path in ("/", ""):
            return _text("latest")
        if path in ("/latest", "/latest/"):
            return _text("dynamic\nmeta-data\nuser-data")
        if path == "/latest/user-data":
            if caller.user_data is None:
                return _not_found()
            return Response(caller.user_data, 200, media_type="application/octet-stream")
        if path == "/latest/meta-data":
            path = "/latest/meta-data/"
        if path.startswith("/latest/meta-data/"):
            found = lookup(meta_data(caller.facts), path[len("/latest/meta-data/"):],
                           caller.facts.key_name)
            if found is not None:
                return _text(found)
        return _not_found()

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/latest/api/token", self.token, methods=["PUT"]),
            Route("/{path:path}", self.get, methods=["GET", "HEAD"]),
        ])
