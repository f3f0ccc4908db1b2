"""CreateKeyPair, ImportKeyPair, DescribeKeyPairs and DeleteKeyPair end to end, with all three clients.

Fingerprints are recomputed here from the key material, the way AWS documents them: a created RSA
key shows the SHA-1 of its PKCS#8 private key DER, an imported RSA key the MD5 of its public key
DER, an ED25519 key the base64 SHA-256 of its OpenSSH public key blob (with ``=`` padding).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
import tempfile
import textwrap
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from boto.ec2.connection import EC2Connection
from boto.ec2.ec2object import TaggedEC2Object
from boto.ec2.keypair import KeyPair as Boto2KeyPair
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from controller.identity.service import Credentials
from tests.conftest import AwsCli
from tests.e2e.refusals import assert_refused, refusal

CLIENTS = ["boto3", "cli", "boto2"]
KEY_ID = re.compile(r"key-[0-9a-f]{17}")
SHA1_HEX = re.compile(r"([0-9a-f]{2}:){19}[0-9a-f]{2}")
MD5_HEX = re.compile(r"([0-9a-f]{2}:){15}[0-9a-f]{2}")
DRY_RUN_MESSAGE = "Request would have succeeded, but DryRun flag is set."

Filters = Mapping[str, Sequence[str]]
Tags = Mapping[str, str]


# --- errors, whichever client raised them -------------------------------------------------------


# --- the three clients behind one small interface -----------------------------------------------


def _tag_list(tags: Tags) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def _tag_specs(tags: Tags | None, resource_type: str = "key-pair") -> list[dict[str, Any]]:
    return [{"ResourceType": resource_type, "Tags": _tag_list(tags)}] if tags else []


def _filter_list(filters: Filters | None) -> list[dict[str, Any]]:
    return [{"Name": name, "Values": list(values)} for name, values in (filters or {}).items()]


def _normalise(item: Mapping[str, Any]) -> dict[str, Any]:
    """A key pair as boto3 and the CLI return it, with tags as a dict and no timestamp."""
    out = {k: v for k, v in item.items() if k not in ("Tags", "CreateTime", "ResponseMetadata")}
    out["Tags"] = {t["Key"]: t["Value"] for t in item.get("Tags") or ()}
    return out


class Boto3Api:
    def __init__(self, ec2: Any) -> None:
        self.ec2 = ec2

    def create(self, name: str, key_type: str | None = None, tags: Tags | None = None,
               dry_run: bool = False) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"KeyName": name, "DryRun": dry_run,
                                  "TagSpecifications": _tag_specs(tags)}
        if key_type:
            kwargs["KeyType"] = key_type
        return _normalise(self.ec2.create_key_pair(**kwargs))

    def import_(self, name: str, material: bytes, tags: Tags | None = None,
                dry_run: bool = False) -> dict[str, Any]:
        return _normalise(self.ec2.import_key_pair(
            KeyName=name, PublicKeyMaterial=material, DryRun=dry_run,
            TagSpecifications=_tag_specs(tags)))

    def describe(self, names: Sequence[str] = (), ids: Sequence[str] = (),
                 filters: Filters | None = None, include_public: bool = False) -> list[dict[str, Any]]:
        reply = self.ec2.describe_key_pairs(KeyNames=list(names), KeyPairIds=list(ids),
                                            Filters=_filter_list(filters),
                                            IncludePublicKey=include_public)
        return [_normalise(item) for item in reply["KeyPairs"]]

    def delete(self, name: str | None = None, pair_id: str | None = None,
               dry_run: bool = False) -> None:
        kwargs = {"KeyName": name} if name else {"KeyPairId": pair_id}
        reply = self.ec2.delete_key_pair(DryRun=dry_run, **kwargs)
        assert reply["Return"] is True


class CliApi:
    def __init__(self, aws: AwsCli) -> None:
        self.aws = aws

    def create(self, name: str, key_type: str | None = None, tags: Tags | None = None,
               dry_run: bool = False) -> dict[str, Any]:
        args = ["ec2", "create-key-pair", "--key-name", name]
        args += ["--key-type", key_type] if key_type else []
        args += ["--tag-specifications", json.dumps(_tag_specs(tags))] if tags else []
        args += ["--dry-run"] if dry_run else []
        return _normalise(self.aws(*args))

    def import_(self, name: str, material: bytes, tags: Tags | None = None,
                dry_run: bool = False) -> dict[str, Any]:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "key.pub"
            path.write_bytes(material)
            args = ["ec2", "import-key-pair", "--key-name", name,
                    "--public-key-material", f"fileb://{path}"]
            args += ["--tag-specifications", json.dumps(_tag_specs(tags))] if tags else []
            args += ["--dry-run"] if dry_run else []
            return _normalise(self.aws(*args))

    def describe(self, names: Sequence[str] = (), ids: Sequence[str] = (),
                 filters: Filters | None = None, include_public: bool = False) -> list[dict[str, Any]]:
        args = ["ec2", "describe-key-pairs"]
        args += ["--key-names", *names] if names else []
        args += ["--key-pair-ids", *ids] if ids else []
        args += ["--filters", json.dumps(_filter_list(filters))] if filters else []
        args += ["--include-public-key"] if include_public else []
        return [_normalise(item) for item in self.aws(*args)["KeyPairs"]]

    def delete(self, name: str | None = None, pair_id: str | None = None,
               dry_run: bool = False) -> None:
        args = ["ec2", "delete-key-pair"]
        args += ["--key-name", name] if name else ["--key-pair-id", str(pair_id)]
        args += ["--dry-run"] if dry_run else []
        reply = self.aws(*args)
        assert reply is None or reply.get("Return", True) is True


class Boto2TaggedKeyPair(Boto2KeyPair, TaggedEC2Object):  # type: ignore[misc]
    """boto 2's KeyPair, also reading ``tagSet`` (which boto 2 leaves unparsed for key pairs)."""


def _boto2_normalise(pair: Boto2KeyPair) -> dict[str, Any]:
    """Plain boto 2 KeyPair objects (from its own calls) have no ``tags``: none were asked for."""
    out: dict[str, Any] = {"KeyName": pair.name, "KeyFingerprint": pair.fingerprint,
                           "KeyPairId": getattr(pair, "keyPairId", None),
                           "Tags": dict(getattr(pair, "tags", None) or {})}
    for wire, name in (("keyType", "KeyType"), ("publicKey", "PublicKey")):
        if getattr(pair, wire, None) is not None:
            out[name] = getattr(pair, wire)
    if pair.material:
        out["KeyMaterial"] = pair.material
    return out


class Boto2Api:
    """boto 2's own calls where it has them; the newer parameters go on the wire as EC2 defines them."""

    def __init__(self, conn: EC2Connection) -> None:
        self.conn = conn

    def _params(self, name: str, tags: Tags | None, dry_run: bool) -> dict[str, Any]:
        params: dict[str, Any] = {"KeyName": name}
        for i, (key, value) in enumerate((tags or {}).items(), start=1):
            params["TagSpecification.1.ResourceType"] = "key-pair"
            params[f"TagSpecification.1.Tag.{i}.Key"] = key
            params[f"TagSpecification.1.Tag.{i}.Value"] = value
        if dry_run:
            params["DryRun"] = "true"
        return params

    def create(self, name: str, key_type: str | None = None, tags: Tags | None = None,
               dry_run: bool = False) -> dict[str, Any]:
        if key_type is None and not tags:
            return _boto2_normalise(self.conn.create_key_pair(name, dry_run=dry_run))
        params = self._params(name, tags, dry_run) | ({"KeyType": key_type} if key_type else {})
        return _boto2_normalise(self.conn.get_object("CreateKeyPair", params, Boto2TaggedKeyPair,
                                                     verb="POST"))

    def import_(self, name: str, material: bytes, tags: Tags | None = None,
                dry_run: bool = False) -> dict[str, Any]:
        if not tags:
            return _boto2_normalise(self.conn.import_key_pair(name, material, dry_run=dry_run))
        params = self._params(name, tags, dry_run) | {
            "PublicKeyMaterial": base64.b64encode(material).decode()}
        return _boto2_normalise(self.conn.get_object("ImportKeyPair", params, Boto2TaggedKeyPair,
                                                     verb="POST"))

    def describe(self, names: Sequence[str] = (), ids: Sequence[str] = (),
                 filters: Filters | None = None, include_public: bool = False) -> list[dict[str, Any]]:
        params: dict[str, Any] = {}
        self.conn.build_list_params(params, list(names), "KeyName")
        self.conn.build_list_params(params, list(ids), "KeyPairId")
        self.conn.build_filter_params(params, {k: list(v) for k, v in (filters or {}).items()})
        if include_public:
            params["IncludePublicKey"] = "true"
        found = self.conn.get_list("DescribeKeyPairs", params, [("item", Boto2TaggedKeyPair)],
                                   verb="POST")
        return [_boto2_normalise(pair) for pair in found]

    def delete(self, name: str | None = None, pair_id: str | None = None,
               dry_run: bool = False) -> None:
        if name:
            assert self.conn.delete_key_pair(name, dry_run=dry_run) is True
            return
        params = {"KeyPairId": pair_id} | ({"DryRun": "true"} if dry_run else {})
        assert self.conn.get_status("DeleteKeyPair", params, verb="POST") is True


Api = Boto3Api | CliApi | Boto2Api


@pytest.fixture(params=CLIENTS)
def api(request: pytest.FixtureRequest, account: Credentials) -> Api:
    """One client per parametrization, of the test's account; only that client is built (a boto3
    client costs ~0.5 s to make)."""
    if request.param == "boto3":
        return Boto3Api(request.getfixturevalue("ec2"))
    if request.param == "cli":
        return CliApi(request.getfixturevalue("aws"))
    return Boto2Api(request.getfixturevalue("boto2"))


# --- key material made here, and AWS's fingerprints of it ---------------------------------------


def _colon_hex(digest: bytes) -> str:
    return ":".join(f"{b:02x}" for b in digest)


def created_rsa_fingerprint(private: rsa.RSAPrivateKey) -> str:
    der = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return _colon_hex(hashlib.sha1(der).digest())


def imported_rsa_fingerprint(public: rsa.RSAPublicKey) -> str:
    der = public.public_bytes(serialization.Encoding.DER,
                              serialization.PublicFormat.SubjectPublicKeyInfo)
    return _colon_hex(hashlib.md5(der).digest())


def openssh_line(public: rsa.RSAPublicKey | ed25519.Ed25519PublicKey) -> str:
    return public.public_bytes(serialization.Encoding.OpenSSH,
                               serialization.PublicFormat.OpenSSH).decode()


def ed25519_fingerprint(public: ed25519.Ed25519PublicKey) -> str:
    blob = base64.b64decode(openssh_line(public).split()[1])
    return base64.b64encode(hashlib.sha256(blob).digest()).decode()


def new_rsa(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def rfc4716(public: rsa.RSAPublicKey, comment: str = '"made by the test"') -> bytes:
    body = "\n".join(textwrap.wrap(openssh_line(public).split()[1], 70))
    return (f"---- BEGIN SSH2 PUBLIC KEY ----\nComment: {comment}\n{body}\n"
            "---- END SSH2 PUBLIC KEY ----\n").encode()


def same_public_key(line: str, public: rsa.RSAPublicKey | ed25519.Ed25519PublicKey) -> bool:
    """``line`` holds ``public`` in OpenSSH form (a trailing comment, if any, is not compared)."""
    return line.split()[:2] == openssh_line(public).split()[:2]


# --- CreateKeyPair ------------------------------------------------------------------------------


def test_create_rsa_key_pair(api: Api) -> None:
    created = api.create("rsa-one")
    assert created["KeyName"] == "rsa-one"
    assert KEY_ID.fullmatch(created["KeyPairId"]), created
    material = created["KeyMaterial"]
    assert material.startswith("-----BEGIN RSA PRIVATE KEY-----\n")  # PKCS#1, as AWS returns
    assert material.rstrip("\n").endswith("-----END RSA PRIVATE KEY-----")
    private = serialization.load_pem_private_key(material.encode(), password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    assert private.key_size == 2048
    assert SHA1_HEX.fullmatch(created["KeyFingerprint"])
    assert created["KeyFingerprint"] == created_rsa_fingerprint(private)

    [described] = api.describe(names=["rsa-one"], include_public=True)
    assert described["KeyPairId"] == created["KeyPairId"]
    assert described["KeyFingerprint"] == created["KeyFingerprint"]
    assert described["KeyType"] == "rsa"
    assert same_public_key(described["PublicKey"], private.public_key())
    assert "KeyMaterial" not in described


def test_create_ed25519_key_pair(api: Api) -> None:
    created = api.create("ed-one", key_type="ed25519")
    material = created["KeyMaterial"]
    assert material.startswith("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    private = serialization.load_ssh_private_key(material.encode(), password=None)
    assert isinstance(private, ed25519.Ed25519PrivateKey)
    fingerprint = ed25519_fingerprint(private.public_key())
    assert created["KeyFingerprint"] == fingerprint
    assert fingerprint.endswith("=") and len(fingerprint) == 44  # AWS keeps the base64 padding

    [described] = api.describe(ids=[created["KeyPairId"]], include_public=True)
    assert (described["KeyName"], described["KeyType"]) == ("ed-one", "ed25519")
    assert described["KeyFingerprint"] == fingerprint
    assert same_public_key(described["PublicKey"], private.public_key())


def test_create_explicit_rsa_key_type(ec2: Any) -> None:
    created = ec2.create_key_pair(KeyName="typed", KeyType="rsa", KeyFormat="pem")
    private = serialization.load_pem_private_key(created["KeyMaterial"].encode(), password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    assert created["KeyFingerprint"] == created_rsa_fingerprint(private)


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs OpenSSH's ssh-keygen")
def test_created_keys_are_what_openssh_reads(ec2: Any, tmp_path: Path) -> None:
    """OpenSSH itself loads both private keys, and prints the ED25519 fingerprint AWS shows."""
    for key_type in ("rsa", "ed25519"):
        created = ec2.create_key_pair(KeyName=f"ssh-{key_type}", KeyType=key_type)
        path = tmp_path / f"{key_type}.pem"
        path.write_text(created["KeyMaterial"])
        path.chmod(0o600)
        public = subprocess.run(["ssh-keygen", "-y", "-f", str(path)], capture_output=True,
                                text=True, check=True).stdout
        described = ec2.describe_key_pairs(KeyNames=[f"ssh-{key_type}"],
                                           IncludePublicKey=True)["KeyPairs"][0]
        assert described["PublicKey"].split()[:2] == public.split()[:2]
        if key_type == "ed25519":
            printed = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", str(path)],
                                     capture_output=True, text=True, check=True).stdout
            assert printed.split()[1] == "SHA256:" + created["KeyFingerprint"].rstrip("=")


def test_create_time_is_now(ec2: Any, aws: AwsCli) -> None:
    before = datetime.now(UTC) - timedelta(minutes=2)
    ec2.create_key_pair(KeyName="timed")
    created = ec2.describe_key_pairs(KeyNames=["timed"])["KeyPairs"][0]["CreateTime"]
    assert before <= created <= datetime.now(UTC) + timedelta(minutes=2)
    text = aws("ec2", "describe-key-pairs", "--key-names", "timed")["KeyPairs"][0]["CreateTime"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)", text), text


def test_each_created_key_is_new(ec2: Any) -> None:
    one = ec2.create_key_pair(KeyName="one")
    two = ec2.create_key_pair(KeyName="two")
    assert one["KeyPairId"] != two["KeyPairId"]
    assert one["KeyFingerprint"] != two["KeyFingerprint"]
    assert one["KeyMaterial"] != two["KeyMaterial"]


@pytest.mark.parametrize("name", ["a", "x" * 255, "with space", "dots.dashes-under_scores",
                                  "!#$%&'()*+,/:;<=>?@[]^`{|}~"])
def test_create_accepts_ascii_names_up_to_255(ec2: Any, name: str) -> None:
    assert ec2.create_key_pair(KeyName=name)["KeyName"] == name
    assert [p["KeyName"] for p in ec2.describe_key_pairs(KeyNames=[name])["KeyPairs"]] == [name]


@pytest.mark.parametrize("name", ["x" * 256, "", "naïve"], ids=["256-chars", "empty", "non-ascii"])
def test_create_refuses_bad_names(ec2: Any, name: str) -> None:
    assert_refused(refusal(lambda: ec2.create_key_pair(KeyName=name)), "InvalidParameterValue")
    assert ec2.describe_key_pairs()["KeyPairs"] == []


def test_names_no_key_pair_can_have(ec2: Any) -> None:
    """A NUL in a name is refused by every call, never a 500 (PostgreSQL cannot hold NUL)."""
    ec2.create_key_pair(KeyName="real")
    for call in (lambda: ec2.create_key_pair(KeyName="a\x00b"),
                 lambda: ec2.describe_key_pairs(KeyNames=["real", "a\x00b"]),
                 lambda: ec2.delete_key_pair(KeyName="a\x00b")):
        assert_refused(refusal(call), "InvalidParameterValue")
    assert [p["KeyName"] for p in ec2.describe_key_pairs()["KeyPairs"]] == ["real"]


def test_create_refuses_unknown_key_type(api: Api) -> None:
    assert_refused(refusal(lambda: api.create("dsa", key_type="dsa")), "InvalidParameterValue")
    assert api.describe() == []


# --- ImportKeyPair ------------------------------------------------------------------------------


def test_import_openssh_rsa_key(api: Api) -> None:
    public = new_rsa().public_key()
    line = openssh_line(public) + " someone@laptop\n"
    imported = api.import_("imported-rsa", line.encode())
    assert imported["KeyName"] == "imported-rsa"
    assert KEY_ID.fullmatch(imported["KeyPairId"])
    assert "KeyMaterial" not in imported
    assert MD5_HEX.fullmatch(imported["KeyFingerprint"])
    assert imported["KeyFingerprint"] == imported_rsa_fingerprint(public)

    [described] = api.describe(names=["imported-rsa"], include_public=True)
    assert described["KeyPairId"] == imported["KeyPairId"]
    assert described["KeyFingerprint"] == imported["KeyFingerprint"]
    assert described["KeyType"] == "rsa"
    assert same_public_key(described["PublicKey"], public)


def test_import_openssh_ed25519_key(api: Api) -> None:
    public = ed25519.Ed25519PrivateKey.generate().public_key()
    imported = api.import_("imported-ed", (openssh_line(public) + " me@host").encode())
    assert imported["KeyFingerprint"] == ed25519_fingerprint(public)
    [described] = api.describe(ids=[imported["KeyPairId"]], include_public=True)
    assert (described["KeyName"], described["KeyType"]) == ("imported-ed", "ed25519")
    assert described["KeyFingerprint"] == ed25519_fingerprint(public)
    assert same_public_key(described["PublicKey"], public)


def test_import_created_rsa_key_gets_the_md5_fingerprint(ec2: Any) -> None:
    """The same RSA key shows SHA-1 when EC2 made it, MD5 when it is imported (AWS's rule)."""
    created = ec2.create_key_pair(KeyName="made-here")
    private = serialization.load_pem_private_key(created["KeyMaterial"].encode(), password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    line = openssh_line(private.public_key()).encode()
    imported = ec2.import_key_pair(KeyName="brought-back", PublicKeyMaterial=line)
    assert imported["KeyFingerprint"] == imported_rsa_fingerprint(private.public_key())
    assert imported["KeyFingerprint"] != created["KeyFingerprint"]


IMPORT_ENCODINGS = ["rfc4716", "rfc4716-continued-header", "der-base64", "der-base64-wrapped",
                    "openssh-no-comment", "openssh-crlf", "1024-bit", "4096-bit"]


@pytest.mark.parametrize("encoding", IMPORT_ENCODINGS)
def test_import_other_accepted_rsa_encodings(ec2: Any, encoding: str) -> None:
    """The formats AWS lists for ImportKeyPair (OpenSSH, base64 DER, RFC 4716) and its RSA key
    sizes (1024, 2048, 4096)."""
    bits = int(encoding.split("-")[0]) if encoding.endswith("-bit") else 2048
    public = new_rsa(bits).public_key()
    der = public.public_bytes(serialization.Encoding.DER,
                              serialization.PublicFormat.SubjectPublicKeyInfo)
    continued = '"a comment long enough to be continued \\\non the next line, as RFC 4716 allows"'
    material = {
        "rfc4716": rfc4716(public),
        "rfc4716-continued-header": rfc4716(public, continued),
        "der-base64": base64.b64encode(der),
        "der-base64-wrapped": base64.encodebytes(der),  # 76 columns, as base64(1) writes it
        "openssh-no-comment": openssh_line(public).encode(),
        "openssh-crlf": (openssh_line(public) + " me@host\r\n").encode(),
    }.get(encoding, openssh_line(public).encode())
    imported = ec2.import_key_pair(KeyName=encoding, PublicKeyMaterial=material)
    assert imported["KeyFingerprint"] == imported_rsa_fingerprint(public)
    described = ec2.describe_key_pairs(KeyNames=[encoding], IncludePublicKey=True)["KeyPairs"]
    assert same_public_key(described[0]["PublicKey"], public)


def _ecdsa_line() -> bytes:
    public = ec.generate_private_key(ec.SECP256R1()).public_key()
    return public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)


def _rsa_line_of_bits(bits: int) -> bytes:
    """An OpenSSH RSA public key of any size, made from numbers (no slow key generation)."""
    public = rsa.RSAPublicNumbers(65537, (1 << (bits - 1)) | 0xF1).public_key()
    return openssh_line(public).encode()


JUNK = {
    "text": b"this is not a key",
    "rsa-512-bit": _rsa_line_of_bits(512),
    "rsa-8192-bit": _rsa_line_of_bits(8192),
    "options-prefix": b"no-pty " + openssh_line(new_rsa().public_key()).encode(),
    "truncated": openssh_line(new_rsa().public_key()).encode()[:60],
    "bad-base64": b"ssh-rsa AAAA!!!!notbase64 me@host",
    "ecdsa": _ecdsa_line(),
    "private-key": new_rsa().private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.TraditionalOpenSSL,
                                           serialization.NoEncryption()),
}


@pytest.mark.parametrize("kind", list(JUNK))
def test_import_junk_is_invalid_key_format(ec2: Any, kind: str) -> None:
    refused = refusal(lambda: ec2.import_key_pair(KeyName="junk", PublicKeyMaterial=JUNK[kind]))
    assert_refused(refused, "InvalidKey.Format")
    assert refused.message == "Key is not in valid OpenSSH public key format"
    assert ec2.describe_key_pairs()["KeyPairs"] == []


def test_import_junk_every_client(api: Api) -> None:
    assert_refused(refusal(lambda: api.import_("junk", b"not a key at all")), "InvalidKey.Format")
    assert api.describe() == []


# --- duplicates ---------------------------------------------------------------------------------


def test_create_duplicate_name(api: Api) -> None:
    first = api.create("dup")
    refused = refusal(lambda: api.create("dup"))
    assert_refused(refused, "InvalidKeyPair.Duplicate")
    assert "'dup'" in refused.message
    [still] = api.describe(names=["dup"])
    assert (still["KeyPairId"], still["KeyFingerprint"]) == (first["KeyPairId"],
                                                             first["KeyFingerprint"])


def test_import_duplicate_name(api: Api) -> None:
    line = openssh_line(ed25519.Ed25519PrivateKey.generate().public_key()).encode()
    api.import_("dup-import", line)
    assert_refused(refusal(lambda: api.import_("dup-import", line)), "InvalidKeyPair.Duplicate")
    assert_refused(refusal(lambda: api.create("dup-import")), "InvalidKeyPair.Duplicate")
    assert len(api.describe()) == 1


def test_names_are_case_sensitive(ec2: Any) -> None:
    ec2.create_key_pair(KeyName="Case")
    ec2.create_key_pair(KeyName="case")
    assert sorted(p["KeyName"] for p in ec2.describe_key_pairs()["KeyPairs"]) == ["Case", "case"]


# --- DescribeKeyPairs ---------------------------------------------------------------------------


@pytest.fixture
def three_pairs(ec2: Any) -> dict[str, dict[str, Any]]:
    """web-1 (rsa, Env=prod), web-2 (ed25519, Env=dev, Team=a), db-1 (imported, untagged)."""
    pairs = {
        "web-1": ec2.create_key_pair(KeyName="web-1", TagSpecifications=_tag_specs({"Env": "prod"})),
        "web-2": ec2.create_key_pair(KeyName="web-2", KeyType="ed25519",
                                     TagSpecifications=_tag_specs({"Env": "dev", "Team": "a"})),
        "db-1": ec2.import_key_pair(KeyName="db-1",
                                    PublicKeyMaterial=openssh_line(new_rsa().public_key()).encode()),
    }
    return {name: _normalise(reply) for name, reply in pairs.items()}


def test_describe_all(api: Api, three_pairs: dict[str, dict[str, Any]]) -> None:
    described = {p["KeyName"]: p for p in api.describe()}
    assert set(described) == {"web-1", "web-2", "db-1"}
    for name, created in three_pairs.items():
        assert described[name]["KeyPairId"] == created["KeyPairId"]
        assert described[name]["KeyFingerprint"] == created["KeyFingerprint"]
        assert "PublicKey" not in described[name]
    assert described["web-2"]["Tags"] == {"Env": "dev", "Team": "a"}
    assert described["db-1"]["Tags"] == {}
    assert {p["KeyType"] for p in described.values()} == {"rsa", "ed25519"}


def test_describe_by_names_and_ids(api: Api, three_pairs: dict[str, dict[str, Any]]) -> None:
    assert sorted(p["KeyName"] for p in api.describe(names=["db-1", "web-1"])) == ["db-1", "web-1"]
    ids = [three_pairs["web-2"]["KeyPairId"], three_pairs["db-1"]["KeyPairId"]]
    assert sorted(p["KeyName"] for p in api.describe(ids=ids)) == ["db-1", "web-2"]


@pytest.mark.parametrize(
    ("names", "ids", "missing"),
    [(["nope"], [], "nope"), (["web-1", "nope"], [], "nope"),
     ([], ["key-0123456789abcdef0"], "key-0123456789abcdef0")],
    ids=["unknown-name", "known-and-unknown", "unknown-id"],
)
def test_describe_not_found(api: Api, three_pairs: dict[str, dict[str, Any]], names: list[str],
                            ids: list[str], missing: str) -> None:
    refused = refusal(lambda: api.describe(names=names, ids=ids))
    assert_refused(refused, "InvalidKeyPair.NotFound")
    assert f"'{missing}'" in refused.message


def test_describe_malformed_id_is_not_found(ec2: Any) -> None:
    refused = refusal(lambda: ec2.describe_key_pairs(KeyPairIds=["not-a-key-id"]))
    assert_refused(refused, "InvalidKeyPair.NotFound")


def test_boto2_get_key_pair_is_none_when_missing(boto2: EC2Connection) -> None:
    """boto 2's ``get_key_pair`` relies on the exact code ``InvalidKeyPair.NotFound``."""
    assert boto2.get_key_pair("nope") is None
    boto2.create_key_pair("there")
    found = boto2.get_key_pair("there")
    assert found is not None and found.name == "there"


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"key-name": ["web-*"]}, ["web-1", "web-2"]),
        ({"key-name": ["*-1"]}, ["db-1", "web-1"]),
        ({"key-name": ["web-?"]}, ["web-1", "web-2"]),
        ({"key-name": ["web"]}, []),
        ({"key-name": ["db-1", "web-2"]}, ["db-1", "web-2"]),
        ({"key-name": ["web-*"], "tag:Env": ["prod"]}, ["web-1"]),
        ({"tag:Env": ["prod", "dev"]}, ["web-1", "web-2"]),
        ({"tag:Env": ["pr*"]}, ["web-1"]),
        ({"tag:Team": ["a"]}, ["web-2"]),
        ({"tag:Nope": ["*"]}, []),
        ({"tag-key": ["Team"]}, ["web-2"]),
        ({"tag-key": ["Env"]}, ["web-1", "web-2"]),
        ({"tag-value": ["dev"]}, ["web-2"]),
        ({"key-type": ["ed25519"]}, ["web-2"]),
    ],
    ids=["name-star-suffix", "name-star-prefix", "name-question", "name-exact-no-match",
         "name-or", "name-and-tag", "tag-or", "tag-wildcard", "tag-other-key", "tag-absent-key",
         "tag-key", "tag-key-shared", "tag-value", "key-type"],
)
def test_describe_filters(api: Api, three_pairs: dict[str, dict[str, Any]], filters: Filters,
                          expected: list[str]) -> None:
    assert sorted(p["KeyName"] for p in api.describe(filters=filters)) == expected


def test_describe_filter_by_fingerprint_and_id(api: Api,
                                               three_pairs: dict[str, dict[str, Any]]) -> None:
    for name in ("web-1", "web-2", "db-1"):
        fingerprint = three_pairs[name]["KeyFingerprint"]
        assert [p["KeyName"] for p in api.describe(filters={"fingerprint": [fingerprint]})] == [name]
        pair_id = three_pairs[name]["KeyPairId"]
        assert [p["KeyName"] for p in api.describe(filters={"key-pair-id": [pair_id]})] == [name]


def test_describe_names_and_filters_combine(ec2: Any, three_pairs: dict[str, Any]) -> None:
    reply = ec2.describe_key_pairs(KeyNames=["web-1", "db-1"],
                                   Filters=[{"Name": "tag:Env", "Values": ["prod"]}])
    assert [p["KeyName"] for p in reply["KeyPairs"]] == ["web-1"]


def test_describe_unknown_filter_is_refused(api: Api, three_pairs: dict[str, Any]) -> None:
    refused = refusal(lambda: api.describe(filters={"colour": ["blue"]}))
    assert_refused(refused, "InvalidParameterValue")
    assert "colour" in refused.message


def test_describe_include_public_key_off_by_default(ec2: Any, aws: AwsCli) -> None:
    ec2.create_key_pair(KeyName="quiet")
    assert "PublicKey" not in ec2.describe_key_pairs()["KeyPairs"][0]
    assert "PublicKey" not in ec2.describe_key_pairs(IncludePublicKey=False)["KeyPairs"][0]
    assert "PublicKey" not in aws("ec2", "describe-key-pairs")["KeyPairs"][0]
    loud = aws("ec2", "describe-key-pairs", "--include-public-key")["KeyPairs"][0]
    assert loud["PublicKey"].startswith("ssh-rsa AAAA")


def test_describe_nothing_is_empty(api: Api) -> None:
    assert api.describe() == []


# --- DeleteKeyPair ------------------------------------------------------------------------------


def test_delete_by_name(api: Api) -> None:
    api.create("doomed")
    api.create("kept")
    api.delete(name="doomed")
    assert [p["KeyName"] for p in api.describe()] == ["kept"]
    assert_refused(refusal(lambda: api.describe(names=["doomed"])), "InvalidKeyPair.NotFound")


def test_delete_by_id(api: Api) -> None:
    doomed = api.create("doomed-by-id", key_type="ed25519")
    api.delete(pair_id=doomed["KeyPairId"])
    assert api.describe() == []
    assert_refused(refusal(lambda: api.describe(ids=[doomed["KeyPairId"]])),
                   "InvalidKeyPair.NotFound")


def test_delete_is_idempotent(api: Api) -> None:
    api.create("twice")
    api.delete(name="twice")
    api.delete(name="twice")
    api.delete(name="never-existed")
    assert api.describe() == []


def test_delete_returns_the_id(ec2: Any) -> None:
    created = ec2.create_key_pair(KeyName="id-back")
    reply = ec2.delete_key_pair(KeyName="id-back")
    assert (reply["Return"], reply["KeyPairId"]) == (True, created["KeyPairId"])


def test_delete_without_name_or_id_is_missing_parameter(ec2: Any) -> None:
    assert_refused(refusal(lambda: ec2.delete_key_pair()), "MissingParameter")


def test_name_is_free_again_after_delete(api: Api) -> None:
    first = api.create("reborn")
    api.delete(name="reborn")
    second = api.create("reborn")
    assert second["KeyPairId"] != first["KeyPairId"]
    assert [p["KeyPairId"] for p in api.describe()] == [second["KeyPairId"]]


def test_delete_removes_the_key_pairs_tags(ec2: Any) -> None:
    created = ec2.create_key_pair(KeyName="tagged", TagSpecifications=_tag_specs({"a": "b"}))
    ec2.delete_key_pair(KeyName="tagged")
    tags = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [created["KeyPairId"]]}])
    assert tags["Tags"] == []


# --- TagSpecifications --------------------------------------------------------------------------


def test_create_with_tags(api: Api) -> None:
    created = api.create("tagged-rsa", tags={"Env": "prod", "Empty": ""})
    assert created["Tags"] == {"Env": "prod", "Empty": ""}
    [described] = api.describe(names=["tagged-rsa"])
    assert described["Tags"] == {"Env": "prod", "Empty": ""}


def test_import_with_tags(api: Api) -> None:
    line = openssh_line(ed25519.Ed25519PrivateKey.generate().public_key()).encode()
    imported = api.import_("tagged-import", line, tags={"Owner": "Zoë ☃"})
    assert imported["Tags"] == {"Owner": "Zoë ☃"}
    assert api.describe(filters={"tag:Owner": ["Zoë*"]})[0]["KeyName"] == "tagged-import"


def test_tags_from_specifications_show_in_describe_tags(ec2: Any) -> None:
    created = ec2.create_key_pair(KeyName="seen", TagSpecifications=_tag_specs({"k": "v"}))
    assert ec2.describe_tags()["Tags"] == [
        {"ResourceId": created["KeyPairId"], "ResourceType": "key-pair", "Key": "k", "Value": "v"}]


@pytest.mark.parametrize(
    ("specs", "code"),
    [
        (_tag_specs({"a": "b"}, resource_type="instance"), "InvalidParameterValue"),
        (_tag_specs({"aws:reserved": "x"}), "InvalidParameterValue"),
        (_tag_specs({"k" * 129: "v"}), "InvalidParameterValue"),
        (_tag_specs({"k": "v" * 257}), "InvalidParameterValue"),
        (_tag_specs({f"k{i}": "v" for i in range(51)}), "TagLimitExceeded"),
    ],
    ids=["wrong-resource-type", "aws-prefix", "long-key", "long-value", "51-tags"],
)
def test_bad_tag_specifications_create_nothing(ec2: Any, specs: list[dict[str, Any]],
                                               code: str) -> None:
    assert_refused(refusal(lambda: ec2.create_key_pair(KeyName="x", TagSpecifications=specs)),
                   code)
    line = openssh_line(new_rsa().public_key()).encode()
    assert_refused(refusal(lambda: ec2.import_key_pair(KeyName="y", PublicKeyMaterial=line,
                                                       TagSpecifications=specs)), code)
    assert ec2.describe_key_pairs()["KeyPairs"] == []
    assert ec2.describe_tags()["Tags"] == []


def test_fifty_tags_on_create_are_fine(ec2: Any) -> None:
    tags = {f"k{i:02}": f"v{i}" for i in range(50)}
    created = ec2.create_key_pair(KeyName="fifty", TagSpecifications=_tag_specs(tags))
    assert {t["Key"]: t["Value"] for t in created["Tags"]} == tags


# --- DryRun -------------------------------------------------------------------------------------


def test_dry_run_create_creates_nothing(api: Api) -> None:
    refused = refusal(lambda: api.create("dry", dry_run=True))
    assert refused.code == "DryRunOperation"
    assert refused.status in (412, None)
    assert refused.message == DRY_RUN_MESSAGE
    assert api.describe() == []


def test_dry_run_import_creates_nothing(api: Api) -> None:
    line = openssh_line(ed25519.Ed25519PrivateKey.generate().public_key()).encode()
    assert_refused(refusal(lambda: api.import_("dry", line, dry_run=True)), "DryRunOperation", 412)
    assert api.describe() == []


def test_dry_run_delete_deletes_nothing(api: Api) -> None:
    created = api.create("survivor")
    assert_refused(refusal(lambda: api.delete(name="survivor", dry_run=True)), "DryRunOperation",
                   412)
    assert_refused(refusal(lambda: api.delete(pair_id=created["KeyPairId"], dry_run=True)),
                   "DryRunOperation", 412)
    assert [p["KeyName"] for p in api.describe()] == ["survivor"]


def test_dry_run_describe_and_tagged_create(ec2: Any) -> None:
    assert_refused(refusal(lambda: ec2.describe_key_pairs(DryRun=True)), "DryRunOperation", 412)
    assert_refused(refusal(lambda: ec2.create_key_pair(
        KeyName="dry-tagged", KeyType="ed25519", DryRun=True,
        TagSpecifications=_tag_specs({"a": "b"}))), "DryRunOperation", 412)
    assert ec2.describe_key_pairs()["KeyPairs"] == []
    assert ec2.describe_tags()["Tags"] == []
