"""RunInstances and the instance lifecycle end to end: a real controller, fake node agents
over real HTTP, boto3, the AWS CLI and boto 2."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import AwsCli, Server, running_server
from tests.e2e.fake_nodes import FakeCluster, NodeShape, fake_cluster, free_port
from tests.e2e.test_images import upload_image

ZONE_A, ZONE_B = "us-east-1a", "us-east-1b"
SMALL = ("small-1", "small-2")  # zone B: 2 vCPUs each, two m1.small per node


@pytest.fixture(scope="module")
def metadata_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def server(db_backend: str, tmp_path_factory: pytest.TempPathFactory,
           metadata_port: int) -> Iterator[Server]:
    env = {
        "IRONBARK_NODE_HEARTBEAT_SECONDS": "0.3",
        "IRONBARK_INSTANCE_RECONCILE_SECONDS": "0.2",
        "IRONBARK_AVAILABILITY_ZONES": json.dumps([ZONE_A, ZONE_B]),
        "IRONBARK_NODE_ZONES": json.dumps({name: ZONE_B for name in SMALL}),
        "IRONBARK_PRIVATE_SUBNET": "127.77.0.0/24",
        "IRONBARK_METADATA_HOST": "127.0.0.1",
        "IRONBARK_METADATA_PORT": str(metadata_port),
    }
    with running_server(db_backend, tmp_path_factory, env) as srv:
        yield srv


@pytest.fixture(scope="module")
def cluster(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeCluster]:
    shapes = [NodeShape("big-1"), NodeShape("big-2"),
              *(NodeShape(name, vcpus=2, memory_mib=4096, max_instances=8) for name in SMALL)]
    with fake_cluster(server, tmp_path_factory.mktemp("fakes"), shapes) as fakes:
        yield fakes


@pytest.fixture
def image(ec2: Any, s3: Any, cluster: FakeCluster) -> dict[str, str]:
    bucket = f"img-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    aki = ec2.register_image(Name="kernel", ImageLocation=upload_image(s3, bucket, "k", "kernel", b"K" * 64))
    ari = ec2.register_image(Name="ramdisk", ImageLocation=upload_image(s3, bucket, "r", "ramdisk", b"R" * 32))
    ami = ec2.register_image(Name="machine", ImageLocation=upload_image(s3, bucket, "m", "machine", b"M" * 512),
                             KernelId=aki["ImageId"], RamdiskId=ari["ImageId"])
    return {"ami": ami["ImageId"], "aki": aki["ImageId"], "ari": ari["ImageId"], "bucket": bucket}


def wait_for(ec2: Any, ids: list[str], state: str, timeout: float = 20) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        reply = ec2.describe_instances(InstanceIds=ids)
        instances = [i for r in reply["Reservations"] for i in r["Instances"]]
        if all(i["State"]["Name"] == state for i in instances):
            return instances
        assert time.monotonic() < deadline, [(i["InstanceId"], i["State"]) for i in instances]
        time.sleep(0.2)


def run(ec2: Any, image: dict[str, str], count: int = 1, **extra: Any) -> dict[str, Any]:
    return ec2.run_instances(ImageId=image["ami"], MinCount=count, MaxCount=count,  # type: ignore[no-any-return]
                             InstanceType="m1.small", **extra)


def code_of(call: Callable[[], Any]) -> str:
    with pytest.raises(ClientError) as info:
        call()
    return str(info.value.response["Error"]["Code"])


def test_run_reaches_running_and_terminates(ec2: Any, image: dict[str, str],
                                            cluster: FakeCluster) -> None:
    reply = run(ec2, image, 2, TagSpecifications=[
        {"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "web"}]}])
    assert reply["ReservationId"].startswith("r-") and len(reply["Instances"]) == 2
    first = reply["Instances"][0]
    assert first["State"] == {"Code": 0, "Name": "pending"}
    assert first["InstanceId"].startswith("i-") and len(first["InstanceId"]) == 19
    assert first["ImageId"] == image["ami"] and first["KernelId"] == image["aki"]
    assert first["Placement"]["AvailabilityZone"] == ZONE_A
    assert first["PrivateIpAddress"].startswith("127.77.0.")
    assert [g["GroupName"] for g in first["SecurityGroups"]] == ["default"]
    assert {"Key": "Name", "Value": "web"} in first["Tags"]
    assert {i["AmiLaunchIndex"] for i in reply["Instances"]} == {0, 1}
    ids = [i["InstanceId"] for i in reply["Instances"]]
    running = wait_for(ec2, ids, "running")
    assert len({i["PrivateIpAddress"] for i in running}) == 2
    on_nodes = {iid: name for name, fake in cluster.nodes.items() for iid in fake.instances.specs}
    assert set(ids) <= set(on_nodes)
    spec = cluster.nodes[on_nodes[ids[0]]].instances.specs[ids[0]]
    assert spec.private_ip == running[0]["PrivateIpAddress"] or spec.private_ip in {
        i["PrivateIpAddress"] for i in running}
    assert set(spec.images) == {"root", "kernel", "ramdisk"}
    assert f"/{image['bucket']}/m/part.0?" in spec.images["root"].url
    assert spec.memory_mib == 256
    # filters
    tagged = ec2.describe_instances(Filters=[{"Name": "tag:Name", "Values": ["web"]},
                                             {"Name": "instance-state-name", "Values": ["running"]}])
    assert {i["InstanceId"] for r in tagged["Reservations"] for i in r["Instances"]} == set(ids)
    by_ip = ec2.describe_instances(Filters=[{"Name": "private-ip-address",
                                             "Values": [running[0]["PrivateIpAddress"]]}])
    assert [i["InstanceId"] for r in by_ip["Reservations"] for i in r["Instances"]] == [
        running[0]["InstanceId"]]
    by_res = ec2.describe_instances(Filters=[{"Name": "reservation-id",
                                              "Values": [reply["ReservationId"]]}])
    assert len(by_res["Reservations"]) == 1
    # terminate
    gone = ec2.terminate_instances(InstanceIds=ids)["TerminatingInstances"]
    assert {g["CurrentState"]["Name"] for g in gone} == {"shutting-down"}
    assert {g["PreviousState"]["Name"] for g in gone} == {"running"}
    done = wait_for(ec2, ids, "terminated")
    assert done[0]["StateReason"]["Code"] == "Client.UserInitiatedShutdown"
    assert done[0]["StateTransitionReason"].startswith("User initiated (")
    assert "PrivateIpAddress" not in done[0]
    assert not set(ids) & {iid for fake in cluster.nodes.values() for iid in fake.instances.specs}
    again = ec2.terminate_instances(InstanceIds=ids)["TerminatingInstances"]
    assert {g["CurrentState"]["Name"] for g in again} == {"terminated"}


def test_refusals(ec2: Any, image: dict[str, str]) -> None:
    assert code_of(lambda: ec2.run_instances(ImageId="ami-nothere", MinCount=1, MaxCount=1)) == \
        "InvalidAMIID.Malformed"
    assert code_of(lambda: ec2.run_instances(ImageId="ami-0123456789abcdef0", MinCount=1,
                                             MaxCount=1)) == "InvalidAMIID.NotFound"
    assert code_of(lambda: run(ec2, {"ami": image["aki"]})) == "InvalidParameterValue"
    assert code_of(lambda: ec2.run_instances(ImageId=image["ami"], MinCount=2, MaxCount=1)) == \
        "InvalidParameterValue"
    assert code_of(lambda: ec2.run_instances(ImageId=image["ami"], MinCount=1, MaxCount=1,
                                             InstanceType="x9.huge")) == "InvalidParameterValue"
    assert code_of(lambda: run(ec2, image, KeyName="nope")) == "InvalidKeyPair.NotFound"
    assert code_of(lambda: run(ec2, image, SecurityGroups=["nope"])) == "InvalidGroup.NotFound"
    assert code_of(lambda: run(ec2, image, UserData="x" * 17000)) == "InvalidParameterValue"
    assert code_of(lambda: run(ec2, image, Placement={"AvailabilityZone": "mars-1a"})) == \
        "InvalidParameterValue"
    assert code_of(lambda: ec2.describe_instances(InstanceIds=["i-123"])) == \
        "InvalidInstanceID.Malformed"
    assert code_of(lambda: ec2.describe_instances(InstanceIds=["i-0123456789abcdef0"])) == \
        "InvalidInstanceID.NotFound"
    assert code_of(lambda: ec2.terminate_instances(InstanceIds=["i-0123456789abcdef0"])) == \
        "InvalidInstanceID.NotFound"


def test_capacity_min_and_max_count(ec2: Any, image: dict[str, str]) -> None:
    zone_b = {"AvailabilityZone": ZONE_B}
    # zone B holds four m1.small: MinCount 5 launches nothing
    assert code_of(lambda: run(ec2, image, 5, Placement=zone_b)) == "InsufficientInstanceCapacity"
    assert not [i for r in ec2.describe_instances(Filters=[
        {"Name": "availability-zone", "Values": [ZONE_B]},
        {"Name": "instance-state-name", "Values": ["pending", "running"]}])["Reservations"]
        for i in r["Instances"]]
    # MinCount 1, MaxCount 10: as many as fit
    reply = ec2.run_instances(ImageId=image["ami"], MinCount=1, MaxCount=10,
                              InstanceType="m1.small", Placement=zone_b)
    ids = [i["InstanceId"] for i in reply["Instances"]]
    assert len(ids) == 4
    assert code_of(lambda: run(ec2, image, 1, Placement=zone_b)) == "InsufficientInstanceCapacity"
    ec2.terminate_instances(InstanceIds=ids)
    wait_for(ec2, ids, "terminated")
    assert len(run(ec2, image, 4, Placement=zone_b)["Instances"]) == 4  # capacity came back
    rest = ec2.describe_instances(Filters=[{"Name": "availability-zone", "Values": [ZONE_B]},
                                           {"Name": "instance-state-name",
                                            "Values": ["pending", "running"]}])
    ec2.terminate_instances(InstanceIds=[i["InstanceId"] for r in rest["Reservations"]
                                         for i in r["Instances"]])


def test_client_token_is_idempotent(ec2: Any, image: dict[str, str]) -> None:
    token = uuid.uuid4().hex
    first = run(ec2, image, ClientToken=token)
    second = run(ec2, image, ClientToken=token)
    assert second["ReservationId"] == first["ReservationId"]
    assert [i["InstanceId"] for i in second["Instances"]] == [
        i["InstanceId"] for i in first["Instances"]]
    assert first["Instances"][0]["ClientToken"] == token
    assert code_of(lambda: ec2.run_instances(ImageId=image["ami"], MinCount=1, MaxCount=2,
                                             ClientToken=token)) == "IdempotentParameterMismatch"
    ec2.terminate_instances(InstanceIds=[first["Instances"][0]["InstanceId"]])


def test_stop_start_refused_for_instance_store(ec2: Any, image: dict[str, str]) -> None:
    iid = run(ec2, image)["Instances"][0]["InstanceId"]
    wait_for(ec2, [iid], "running")
    assert code_of(lambda: ec2.stop_instances(InstanceIds=[iid])) == "UnsupportedOperation"
    started = ec2.start_instances(InstanceIds=[iid])["StartingInstances"][0]
    assert started["CurrentState"]["Name"] == "running"
    ec2.reboot_instances(InstanceIds=[iid])
    ec2.terminate_instances(InstanceIds=[iid])
    wait_for(ec2, [iid], "terminated")
    assert code_of(lambda: ec2.start_instances(InstanceIds=[iid])) == "IncorrectInstanceState"
    assert code_of(lambda: ec2.reboot_instances(InstanceIds=[iid])) == "IncorrectInstanceState"


def test_disable_api_termination(ec2: Any, image: dict[str, str]) -> None:
    iid = run(ec2, image, DisableApiTermination=True)["Instances"][0]["InstanceId"]
    assert code_of(lambda: ec2.terminate_instances(InstanceIds=[iid])) == "OperationNotPermitted"
    assert wait_for(ec2, [iid], "running")
    ec2.modify_instance_attribute(InstanceId=iid, DisableApiTermination={"Value": False})
    ec2.terminate_instances(InstanceIds=[iid])
    wait_for(ec2, [iid], "terminated")


def test_failed_launch_ends_terminated(ec2: Any, s3: Any, image: dict[str, str]) -> None:
    bucket = image["bucket"]
    payload = b"P" * 100
    s3.put_object(Bucket=bucket, Key="two/a", Body=payload)
    s3.put_object(Bucket=bucket, Key="two/b", Body=payload)
    import hashlib
    digest = hashlib.sha256(payload).hexdigest()
    manifest = {"manifest_version": "ironbark-image/1", "image_type": "machine",
                "architecture": "x86_64",
                "parts": [{"key": "a", "size": 100, "sha256": digest},
                          {"key": "b", "size": 100, "sha256": digest}]}
    s3.put_object(Bucket=bucket, Key="two/manifest.json", Body=json.dumps(manifest))
    ami = ec2.register_image(Name="two-parts", ImageLocation=f"{bucket}/two/manifest.json",
                             KernelId=image["aki"])["ImageId"]
    iid = run(ec2, {"ami": ami})["Instances"][0]["InstanceId"]
    done = wait_for(ec2, [iid], "terminated")[0]
    assert done["StateReason"]["Code"] == "Server.InternalError"


def test_console_output(ec2: Any, image: dict[str, str]) -> None:
    iid = run(ec2, image)["Instances"][0]["InstanceId"]
    wait_for(ec2, [iid], "running")
    deadline = time.monotonic() + 15
    while True:
        reply = ec2.get_console_output(InstanceId=iid)
        if reply.get("Output"):
            break
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert reply["InstanceId"] == iid and f"fake console of {iid}" in reply["Output"]
    status = ec2.describe_instance_status(InstanceIds=[iid])["InstanceStatuses"]
    assert status[0]["InstanceState"]["Name"] == "running"
    ec2.terminate_instances(InstanceIds=[iid])


def test_guest_power_off_terminates_instance_store(ec2: Any, image: dict[str, str],
                                                   cluster: FakeCluster) -> None:
    iid = run(ec2, image)["Instances"][0]["InstanceId"]
    wait_for(ec2, [iid], "running")
    node = next(f for f in cluster.nodes.values() if iid in f.instances.specs)
    node.instances.power_off(iid)
    done = wait_for(ec2, [iid], "terminated")[0]
    assert done["StateReason"]["Code"] == "Client.InstanceInitiatedShutdown"


def test_pagination(ec2: Any, image: dict[str, str]) -> None:
    ids = [i["InstanceId"] for i in run(ec2, image, 7)["Instances"]]
    seen: list[str] = []
    token = None
    while True:
        kwargs = {"MaxResults": 5, **({"NextToken": token} if token else {})}
        reply = ec2.describe_instances(Filters=[{"Name": "instance-id", "Values": ids}], **kwargs)
        seen += [i["InstanceId"] for r in reply["Reservations"] for i in r["Instances"]]
        token = reply.get("NextToken")
        if not token:
            break
    assert sorted(seen) == sorted(ids)
    ec2.terminate_instances(InstanceIds=ids)


def test_aws_cli(aws: AwsCli, image: dict[str, str]) -> None:
    reply = aws("ec2", "run-instances", "--image-id", image["ami"], "--count", "1",
                "--instance-type", "m1.small", "--user-data", "hello")
    iid = reply["Instances"][0]["InstanceId"]
    described = aws("ec2", "describe-instances", "--instance-ids", iid)
    assert described["Reservations"][0]["Instances"][0]["InstanceId"] == iid
    gone = aws("ec2", "terminate-instances", "--instance-ids", iid)
    assert gone["TerminatingInstances"][0]["CurrentState"]["Name"] == "shutting-down"


def test_boto2(boto2: Any, image: dict[str, str]) -> None:
    reservation = boto2.run_instances(image["ami"], min_count=1, max_count=2,
                                      instance_type="m1.small", user_data="#!/bin/sh\necho hi")
    assert reservation.id.startswith("r-") and len(reservation.instances) == 2
    ids = [i.id for i in reservation.instances]
    assert reservation.instances[0].state == "pending"
    deadline = time.monotonic() + 20
    while {i.state for r in boto2.get_all_reservations(instance_ids=ids) for i in r.instances} \
            != {"running"}:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    instances = boto2.get_only_instances(instance_ids=ids)
    assert {i.private_ip_address.startswith("127.77.0.") for i in instances} == {True}
    assert instances[0].placement == ZONE_A
    assert [g.name for g in instances[0].groups] == ["default"]
    terminated = boto2.terminate_instances(instance_ids=ids)
    assert {i.state for i in terminated} == {"shutting-down"}


def test_metadata_service(ec2: Any, image: dict[str, str], metadata_port: int) -> None:
    """The instance's private address is in 127.77.0.0/24 here, so the test can send from it
    (any 127.x address is this machine's); no hook maps addresses."""
    import httpx

    key = ec2.import_key_pair(KeyName=f"k-{uuid.uuid4().hex[:8]}", PublicKeyMaterial=PUBLIC_KEY)
    user_data = b"#!/bin/sh\necho hello\n"
    reply = run(ec2, image, KeyName=key["KeyName"], UserData=user_data.decode(),
                MetadataOptions={"HttpTokens": "required"})
    instance = reply["Instances"][0]
    iid, address = instance["InstanceId"], instance["PrivateIpAddress"]
    base = f"http://127.0.0.1:{metadata_port}"

    def client(source: str) -> httpx.Client:
        transport = httpx.HTTPTransport(local_address=source)
        return httpx.Client(transport=transport, base_url=base, trust_env=False)

    with client(address) as guest, client("127.77.0.250") as stranger:
        assert guest.get("/latest/meta-data/instance-id").status_code == 401  # token required
        assert guest.put("/latest/api/token").status_code == 400
        token = guest.put("/latest/api/token",
                          headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"}).text
        auth = {"X-aws-ec2-metadata-token": token}

        def get(path: str) -> str:
            answer = guest.get(path, headers=auth)
            assert answer.status_code == 200, (path, answer.status_code)
            return answer.text

        assert get("/latest/meta-data/instance-id") == iid
        assert get("/latest/meta-data/ami-id") == image["ami"]
        assert get("/latest/meta-data/instance-type") == "m1.small"
        assert get("/latest/meta-data/local-ipv4") == address
        assert get("/latest/meta-data/placement/availability-zone") == ZONE_A
        assert get("/latest/meta-data/reservation-id") == reply["ReservationId"]
        assert get("/latest/meta-data/security-groups") == "default"
        assert get("/latest/meta-data/hostname") == "ip-" + address.replace(".", "-")
        assert get("/latest/meta-data/public-keys/") == f"0={key['KeyName']}"
        assert get("/latest/meta-data/public-keys/0/openssh-key").strip() == PUBLIC_KEY
        listing = get("/latest/meta-data/").splitlines()
        assert "instance-id" in listing and "placement/" in listing
        assert guest.get("/latest/user-data", headers=auth).content == user_data
        assert guest.get("/latest/meta-data/nothing", headers=auth).status_code == 404
        assert guest.get("/latest/meta-data/instance-id",
                         headers={"X-aws-ec2-metadata-token": "forged"}).status_code == 401
        # another address: nothing, not even with the instance's token
        assert stranger.get("/latest/meta-data/instance-id").status_code == 404
        assert stranger.get("/latest/meta-data/instance-id", headers=auth).status_code == 404
        assert stranger.put("/latest/api/token",
                            headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"}).status_code == 404
    ec2.terminate_instances(InstanceIds=[iid])
    wait_for(ec2, [iid], "terminated")
    with client(address) as guest:
        assert guest.get("/latest/meta-data/instance-id").status_code == 404


def test_metadata_identity_document(ec2: Any, s3: Any, image: dict[str, str], server: Server,
                                    metadata_port: int, tmp_path: Any) -> None:
    """IMDSv1, an image with ephemeral mappings, no key or user data; the identity document's
    signatures verify with the certificate ``ironbark admin metadata-certificate`` prints."""
    import base64
    import subprocess

    import httpx
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    from tests.e2e.test_cli import ironbark

    location = upload_image(s3, image["bucket"], "e", "machine", b"E" * 512)
    ami = ec2.register_image(Name=f"eph-{uuid.uuid4().hex[:8]}", ImageLocation=location,
                             KernelId=image["aki"], RootDeviceName="/dev/sda1",
                             BlockDeviceMappings=[{"DeviceName": "/dev/sdb",
                                                   "VirtualName": "ephemeral0"}])["ImageId"]
    instance = run(ec2, {"ami": ami})["Instances"][0]
    iid, address = instance["InstanceId"], instance["PrivateIpAddress"]
    described = wait_for(ec2, [iid], "running")[0]
    transport = httpx.HTTPTransport(local_address=address)
    with httpx.Client(transport=transport, base_url=f"http://127.0.0.1:{metadata_port}",
                      trust_env=False) as guest:
        def get(path: str) -> httpx.Response:
            answer = guest.get(path)
            assert answer.status_code == 200, (path, answer.status_code)
            assert answer.headers["content-type"].startswith("text/plain")
            return answer

        assert get("/latest/meta-data/ami-manifest-path").text == location
        assert get("/latest/meta-data/block-device-mapping/").text == "ami\nephemeral0\nroot"
        assert get("/latest/meta-data/block-device-mapping/ephemeral0").text == "sdb"
        assert get("/latest/meta-data/block-device-mapping/root").text == "/dev/sda1"
        mac = get("/latest/meta-data/mac").text
        assert get("/latest/meta-data/network/interfaces/macs/").text == mac + "/"
        base = f"/latest/meta-data/network/interfaces/macs/{mac}/"
        assert get(base + "local-ipv4s").text == address
        owner = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["OwnerId"]
        assert get(base + "owner-id").text == owner
        assert get(base + "security-group-ids").text == described["SecurityGroups"][0]["GroupId"]
        assert get("/latest/dynamic/").text == "instance-identity/"
        assert get("/latest/dynamic/instance-identity/").text.splitlines() == [
            "document", "pkcs7", "rsa2048", "signature"]
        for missing in ("/latest/user-data", "/latest/meta-data/public-keys/",
                        "/latest/meta-data/public-ipv4", "/latest/meta-data/public-hostname",
                        "/latest/dynamic/instance-identity/nothing"):
            answer = guest.get(missing)
            assert answer.status_code == 404, missing
            assert "<title>404 - Not Found</title>" in answer.text
        text = get("/latest/dynamic/instance-identity/document").text
        document = json.loads(text)
        assert document["instanceId"] == iid and document["imageId"] == ami
        assert document["kernelId"] == image["aki"] and document["ramdiskId"] is None
        assert document["privateIp"] == address and document["availabilityZone"] == ZONE_A
        assert document["region"] == "us-east-1" and document["version"] == "2017-09-30"
        assert document["instanceType"] == "m1.small"
        assert document["architecture"] == described["Architecture"]
        assert document["pendingTime"] == described["LaunchTime"].strftime("%Y-%m-%dT%H:%M:%SZ")
        assert document["accountId"] == owner
        signature = base64.b64decode(get("/latest/dynamic/instance-identity/signature").text)
        pkcs7 = get("/latest/dynamic/instance-identity/pkcs7").text
    certificate = ironbark(server, "metadata-certificate").stdout
    public_key = x509.load_pem_x509_certificate(certificate.encode()).public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    public_key.verify(signature, text.encode(), padding.PKCS1v15(), hashes.SHA256())
    (tmp_path / "cert.pem").write_text(certificate)
    (tmp_path / "doc.p7").write_text(f"-----BEGIN PKCS7-----\n{pkcs7}\n-----END PKCS7-----\n")
    verified = subprocess.run(
        ["openssl", "smime", "-verify", "-in", str(tmp_path / "doc.p7"), "-inform", "PEM",
         "-certfile", str(tmp_path / "cert.pem"), "-noverify"],
        capture_output=True, text=True, check=False)
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout == text
    ec2.terminate_instances(InstanceIds=[iid])


PUBLIC_KEY = ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHXwJ5pD0hnXyA2KHeYc0ZK8eHOMdLMj3YZPv2SLlT3Z")




def test_instance_attributes(ec2: Any, image: dict[str, str], boto2: Any) -> None:
    iid = run(ec2, image, DisableApiTermination=True,
              InstanceInitiatedShutdownBehavior="terminate")["Instances"][0]["InstanceId"]
    described = ec2.describe_instance_attribute(InstanceId=iid, Attribute="disableApiTermination")
    assert described["DisableApiTermination"] == {"Value": True}
    assert ec2.describe_instance_attribute(
        InstanceId=iid, Attribute="instanceInitiatedShutdownBehavior"
    )["InstanceInitiatedShutdownBehavior"] == {"Value": "terminate"}
    assert ec2.describe_instance_attribute(InstanceId=iid, Attribute="groupSet")["Groups"][0][
        "GroupName"] == "default"
    assert code_of(lambda: ec2.modify_instance_attribute(
        InstanceId=iid, InstanceType={"Value": "m1.large"})) == "IncorrectInstanceState"
    assert code_of(lambda: ec2.modify_instance_attribute(
        InstanceId=iid, DisableApiTermination={"Value": False},
        InstanceInitiatedShutdownBehavior={"Value": "stop"})) == "InvalidParameterCombination"
    assert code_of(lambda: ec2.describe_instance_attribute(InstanceId=iid, Attribute="nope")) in (
        "InvalidParameterValue",)
    # boto 2 turns the protection off (Attribute=disableApiTermination&Value=false)
    assert boto2.modify_instance_attribute(iid, "disableApiTermination", False)
    assert boto2.get_instance_attribute(iid, "disableApiTermination")[
        "disableApiTermination"] is False
    monitored = ec2.monitor_instances(InstanceIds=[iid])["InstanceMonitorings"][0]
    assert monitored["Monitoring"]["State"] == "enabled"
    assert ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0][
        "Monitoring"]["State"] == "enabled"
    ec2.terminate_instances(InstanceIds=[iid])
    wait_for(ec2, [iid], "terminated")


def test_a_public_image_with_a_private_kernel_launches_for_others(
        ec2: Any, image: dict[str, str], server: Server, make_ec2: Any,
        cluster: FakeCluster) -> None:
    """As ``ironbark admin image import --public`` leaves it: the AMI public, its aki and ari
    private. Other accounts launch it (the image brings its kernel and ramdisk), but may not
    name the private kernel themselves."""
    ec2.modify_image_attribute(ImageId=image["ami"], LaunchPermission={"Add": [{"Group": "all"}]})
    other = make_ec2(server.new_account())
    reply = other.run_instances(ImageId=image["ami"], MinCount=1, MaxCount=1,
                                InstanceType="t1.micro")
    instance = wait_for(other, [reply["Instances"][0]["InstanceId"]], "running")[0]
    assert (instance["KernelId"], instance["RamdiskId"]) == (image["aki"], image["ari"])
    assert code_of(lambda: other.run_instances(ImageId=image["ami"], MinCount=1, MaxCount=1,
                                               KernelId=image["aki"])) == "InvalidAMIID.NotFound"
    other.terminate_instances(InstanceIds=[instance["InstanceId"]])
