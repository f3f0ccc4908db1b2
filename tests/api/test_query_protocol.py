"""Protocol details of the EC2 Query endpoint, in process: envelopes, versions, limits, errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lxml import etree

from controller.ec2.registry import actions
from controller.identity.service import Credentials
from controller.protocol.model import operation_model
from tests.api.conftest import Api

NS_LATEST = "http://ec2.amazonaws.com/doc/2016-11-15/"


def error_code(reply: object) -> str:
    root = etree.fromstring(reply.content)  # type: ignore[attr-defined]
    return str(root.findtext("Errors/Error/Code"))


def test_every_registered_action_is_in_the_pinned_botocore_model() -> None:
    missing = [name for name in actions() if operation_model(name) is None]
    assert missing == []
    assert len(actions()) >= 17


def test_response_uses_namespace_of_requested_version(api: Api, creds: Credentials) -> None:
    for version in ("2014-10-01", "2016-11-15"):
        reply = api.signed(creds, {"Action": "DescribeRegions", "Version": version})
        assert reply.status_code == 200
        root = etree.fromstring(reply.content)
        assert root.tag == f"{{http://ec2.amazonaws.com/doc/{version}/}}DescribeRegionsResponse"
        request_id = root.findtext(f"{{http://ec2.amazonaws.com/doc/{version}/}}requestId")
        assert request_id == reply.headers["x-amzn-requestid"]


def test_unknown_version_is_refused(api: Api, creds: Credentials) -> None:
    for version in ("2099-01-01", "banana", "2005-01-01"):
        reply = api.signed(creds, {"Action": "DescribeRegions", "Version": version})
        assert (reply.status_code, error_code(reply)) == (400, "NoSuchVersion")


def test_unknown_and_empty_action(api: Api, creds: Credentials) -> None:
    reply = api.signed(creds, {"Action": "RunTheWorld", "Version": "2016-11-15"})
    assert (reply.status_code, error_code(reply)) == (400, "InvalidAction")
    reply = api.signed(creds, {"Action": "", "Version": "2016-11-15"})
    assert (reply.status_code, error_code(reply)) == (400, "MissingAction")


def test_parameter_errors(api: Api, creds: Credentials) -> None:
    cases = [
        ({"Action": "CreateKeyPair"}, "MissingParameter"),
        ({"Action": "DescribeKeyPairs", "Bogus": "1"}, "UnknownParameter"),
        ({"Action": "DescribeSecurityGroups", "MaxResults": "many"}, "InvalidParameterValue"),
        ({"Action": "DescribeKeyPairs", "DryRun": "maybe"}, "InvalidParameterValue"),
        ({"Action": "DescribeSecurityGroups", "MaxResults": "4"}, "InvalidParameterValue"),
        ({"Action": "DescribeSecurityGroups", "GroupId.1": "sg-1", "MaxResults": "5"},
         "InvalidParameterCombination"),
        ({"Action": "DescribeSecurityGroups", "GroupId.1": "nope"}, "InvalidGroupId.Malformed"),
        ({"Action": "DescribeTags", "NextToken": "%%%"}, "InvalidPaginationToken"),
    ]
    for params, code in cases:
        reply = api.signed(creds, {"Version": "2016-11-15", **params})
        assert (reply.status_code, error_code(reply)) == (400, code), params


def test_dry_run_answers_412_and_changes_nothing(api: Api, creds: Credentials) -> None:
    reply = api.signed(creds, {"Action": "CreateKeyPair", "KeyName": "dry", "DryRun": "true"})
    assert (reply.status_code, error_code(reply)) == (412, "DryRunOperation")
    reply = api.signed(creds, {"Action": "DescribeKeyPairs", "KeyName.1": "dry"})
    assert (reply.status_code, error_code(reply)) == (400, "InvalidKeyPair.NotFound")


def test_oversized_body_is_refused_early(api: Api) -> None:
    limit = api.runtime.settings.max_query_body_bytes
    body = "Action=DescribeRegions&Pad=" + "x" * limit
    reply = api.client.post("/", content=body,
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert (reply.status_code, error_code(reply)) == (413, "RequestEntityTooLarge")


def test_unsigned_query_request(api: Api) -> None:
    reply = api.client.get("/", params={"Action": "DescribeRegions", "Version": "2016-11-15"})
    assert (reply.status_code, error_code(reply)) == (401, "MissingAuthenticationToken")


def test_bad_secret_and_unknown_key(api: Api, creds: Credentials) -> None:
    reply = api.signed(creds, {"Action": "DescribeRegions"}, secret="x" * 40)
    assert (reply.status_code, error_code(reply)) == (401, "AuthFailure")
    ghost = Credentials(creds.account_id, "x", "x", "AKIAAAAAAAAAAAAAAAAA", "y" * 40)
    reply = api.signed(ghost, {"Action": "DescribeRegions"})
    assert (reply.status_code, error_code(reply)) == (401, "AuthFailure")


def test_skewed_clock_is_refused(api: Api, creds: Credentials) -> None:
    for minutes in (-16, 16):
        when = datetime.now(UTC) + timedelta(minutes=minutes)
        reply = api.signed(creds, {"Action": "DescribeRegions"}, when=when)
        assert (reply.status_code, error_code(reply)) == (400, "RequestExpired")
    when = datetime.now(UTC) - timedelta(minutes=14)
    assert api.signed(creds, {"Action": "DescribeRegions"}, when=when).status_code == 200


def test_signature_scope_region_and_service_are_the_clients(api: Api, creds: Credentials) -> None:
    # boto 2 against 127.0.0.1 signs for service "127" in region "0": that must verify.
    reply = api.signed(creds, {"Action": "DescribeRegions"}, region="0", service="127")
    assert reply.status_code == 200


def test_requests_without_action_are_s3(api: Api, creds: Credentials) -> None:
    reply = api.client.get("/some-bucket/key")
    assert reply.status_code == 404
    root = etree.fromstring(reply.content)
    assert root.tag == "Error"
    assert root.findtext("Code") == "NoSuchKey" or root.findtext("Code") == "NoSuchBucket"
    assert root.findtext("Resource") == "/some-bucket/key"
    assert reply.headers["x-amz-request-id"] == root.findtext("RequestId")
    reply = api.client.get("/some-bucket", params={"inventory": ""})  # not built
    assert reply.status_code == 501
    assert etree.fromstring(reply.content).findtext("Code") == "NotImplemented"


def test_health(api: Api) -> None:
    reply = api.client.get("/_ironbark/health")
    assert reply.status_code == 200
    assert reply.json() == {"status": "ok"}


def test_inactive_key_is_refused(api: Api, creds: Credentials) -> None:
    from controller.db.engine import transaction
    from controller.identity.service import set_access_key_status

    assert api.signed(creds, {"Action": "DescribeRegions"}).status_code == 200
    with transaction(api.runtime.sessions) as session:
        set_access_key_status(session, creds.account_id, creds.access_key_id, "Inactive")
    reply = api.signed(creds, {"Action": "DescribeRegions"})
    assert (reply.status_code, error_code(reply)) == (401, "AuthFailure")


def test_eucalyptus_era_paths_reach_the_query_api(api: Api, creds: Credentials) -> None:
    for path in ("/services/compute", "/services/Eucalyptus/", "/"):
        reply = api.signed(creds, {"Action": "DescribeAvailabilityZones"}, path=path)
        assert reply.status_code == 200, (path, reply.content)
