"""Round-trips our EC2 XML into botocore's EC2 parser and boto 2's SAX handlers."""

from __future__ import annotations

import warnings
import xml.sax
from datetime import UTC, datetime, timedelta, timezone
from types import ModuleType
from typing import Any

import pytest
from botocore.parsers import create_parser
from lxml import etree

from controller.protocol.model import Shape, api_version, operation_model
from controller.protocol.xml_serializer import serialize_ec2_error, serialize_ec2_response
from tests.protocol.test_query_parser import OPERATION_NAMES, op_, sample_value

API = "2016-11-15"
NS = f"http://ec2.amazonaws.com/doc/{API}/"
DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'


def botocore_parse(name: str, body: bytes, status: int = 200) -> dict[str, Any]:
    op = op_(name)
    response = {"body": body, "headers": {}, "status_code": status}
    parsed: dict[str, Any] = create_parser("ec2").parse(response, op.output_shape)
    return parsed


def respond(name: str, data: dict[str, Any], request_id: str = "req-1") -> bytes:
    return serialize_ec2_response(op_(name), data, request_id=request_id, api_version=API)


# --- round trips through botocore ------------------------------------------------------


@pytest.mark.parametrize("name", OPERATION_NAMES)
def test_generated_output_round_trips(name: str) -> None:
    shape: Shape | None = op_(name).output_shape
    data = sample_value(shape) if shape is not None else {}
    body = respond(name, data, request_id=f"id-{name}")
    assert body.startswith(DECLARATION + f'<{name}Response xmlns="{NS}">'.encode())
    parsed = botocore_parse(name, body)
    assert parsed.pop("ResponseMetadata")["RequestId"] == f"id-{name}"
    assert parsed == data


def test_no_map_shapes_in_outputs() -> None:
    def kinds(shape: Shape, seen: set[str]) -> set[str]:
        if shape.type_name == "structure" and shape.name not in seen:
            seen.add(shape.name)
            return {"structure"}.union(*(kinds(m, seen) for m in shape.members.values()))
        if shape.type_name == "list":
            return {"list"} | kinds(shape.member, seen)
        return {shape.type_name}

    for name in OPERATION_NAMES:
        for shape in (op_(name).input_shape, op_(name).output_shape):
            assert shape is None or "map" not in kinds(shape, set()), name


KEY_PAIRS = [
    {
        "KeyPairId": f"key-{i:017x}",
        "KeyFingerprint": f"{i:02x}:" * 15 + "ff",
        "KeyName": f"key {i}",
        "KeyType": "ed25519" if i % 2 else "rsa",
        "Tags": [{"Key": "Name", "Value": f"k{i}"}] if i % 3 else [],
        "CreateTime": datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
    }
    for i in range(10)
]


def test_describe_key_pairs_golden() -> None:
    data = {
        "KeyPairs": [{"KeyName": "k", "KeyFingerprint": "aa", "KeyPairId": "key-1", "Tags": []}]
    }
    assert respond("DescribeKeyPairs", data) == DECLARATION + (
        b'<DescribeKeyPairsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">'
        b"<requestId>req-1</requestId>"
        b"<keySet><item><keyPairId>key-1</keyPairId><keyName>k</keyName>"
        b"<keyFingerprint>aa</keyFingerprint><tagSet/></item></keySet>"
        b"</DescribeKeyPairsResponse>"
    )
    parsed = botocore_parse(
        "DescribeKeyPairs", respond("DescribeKeyPairs", {"KeyPairs": KEY_PAIRS})
    )
    assert parsed["KeyPairs"] == KEY_PAIRS


def test_empty_list_is_an_empty_wrapper_and_none_is_omitted() -> None:
    body = respond("DescribeKeyPairs", {"KeyPairs": []})
    assert body.endswith(b"<keySet/></DescribeKeyPairsResponse>")
    assert botocore_parse("DescribeKeyPairs", body)["KeyPairs"] == []
    body = respond("DescribeKeyPairs", {"KeyPairs": [{"KeyName": "k", "KeyFingerprint": None}]})
    assert b"keyFingerprint" not in body


def test_return_member_and_empty_output() -> None:
    body = respond("DeleteKeyPair", {"Return": True, "KeyPairId": "key-1"})
    assert b"<requestId>req-1</requestId><return>true</return><keyPairId>key-1</keyPairId>" in body
    assert respond("DeleteSecurityGroup", {"Return": False}).count(b"<return>false</return>") == 1
    no_output = [name for name in OPERATION_NAMES if op_(name).output_shape is None]
    body = respond(no_output[0], {})
    assert body.endswith(b"><requestId>req-1</requestId></" + no_output[0].encode() + b"Response>")
    assert botocore_parse(no_output[0], body) is not None


def test_scalar_formats() -> None:
    moment = datetime(2016, 11, 15, 7, 0, 0, 123456, tzinfo=timezone(timedelta(hours=-5)))
    body = respond("CreateKeyPair", {"KeyName": "a&b<c>", "KeyMaterial": "x\ny"})
    assert b"<keyName>a&amp;b&lt;c&gt;</keyName>" in body
    described = {"KeyPairs": [{"KeyName": "k", "CreateTime": moment}]}
    assert b"<createTime>2016-11-15T12:00:00.123Z</createTime>" in respond(
        "DescribeKeyPairs", described
    )
    naive = {"KeyPairs": [{"CreateTime": datetime(2016, 11, 15, 12)}]}
    assert b"<createTime>2016-11-15T12:00:00.000Z</createTime>" in respond(
        "DescribeKeyPairs", naive
    )
    assert api_version() == API


def test_text_that_xml_cannot_carry_is_replaced() -> None:
    body = respond("CreateKeyPair", {"KeyName": "a\x00b\x1bc\td"})
    assert botocore_parse("CreateKeyPair", body)["KeyName"] == "a\ufffdb\ufffdc\td"


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"KeyPairs": [{"Nope": "x"}]}, ValueError),
        ({"Bogus": 1}, ValueError),
        ({"KeyPairs": [{"CreateTime": "2016-11-15"}]}, TypeError),
    ],
)
def test_handler_mistakes_are_loud(data: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        respond("DescribeKeyPairs", data)


def test_the_write_order_does_not_depend_on_the_datas_key_order() -> None:
    """Plans are cached per key order; every order writes the shape's order, and a plan cached
    for known keys never lets an unknown one through."""
    pairs = [{"KeyName": "k", "KeyFingerprint": "f", "KeyPairId": "key-1",
              "Tags": [{"Key": "a", "Value": "b"}]}]
    first = respond("DescribeKeyPairs", {"KeyPairs": pairs})
    backwards = [dict(reversed(list(pair.items()))) for pair in pairs]
    assert respond("DescribeKeyPairs", {"KeyPairs": backwards}) == first
    assert first.index(b"<keyPairId>") < first.index(b"<tagSet>")  # scalars before lists
    with pytest.raises(ValueError, match=r"has no members \['Nope'\]"):
        respond("DescribeKeyPairs", {"KeyPairs": [{**pairs[0], "Nope": "x"}]})
    # a string member given a non-string is written with str(), as before
    assert b"<keyName>7</keyName>" in respond("DescribeKeyPairs", {"KeyPairs": [{"KeyName": 7}]})


def test_wrong_scalar_types_are_loud() -> None:
    with pytest.raises(TypeError):
        respond("DeleteKeyPair", {"Return": "true"})
    with pytest.raises(TypeError):
        respond(
            "DescribeSecurityGroups", {"SecurityGroups": [{"IpPermissions": [{"FromPort": "1"}]}]}
        )


# --- the error envelope ------------------------------------------------------------------


def test_error_envelope_bytes_and_botocore() -> None:
    body = serialize_ec2_error("InvalidKeyPair.NotFound", "The key pair 'k' does not exist", "r-1")
    assert body == DECLARATION + (
        b"<Response><Errors><Error><Code>InvalidKeyPair.NotFound</Code>"
        b"<Message>The key pair 'k' does not exist</Message></Error></Errors>"
        b"<RequestID>r-1</RequestID></Response>"
    )
    parsed = botocore_parse("DescribeKeyPairs", body, status=400)
    assert parsed["Error"] == {
        "Code": "InvalidKeyPair.NotFound",
        "Message": "The key pair 'k' does not exist",
    }
    assert parsed["ResponseMetadata"]["RequestId"] == "r-1"


def test_error_envelope_escapes_and_sanitises() -> None:
    body = serialize_ec2_error("InvalidParameterValue", "Value (<\x00&>) is bad", "r")
    root = etree.fromstring(body)
    assert root.findtext("Errors/Error/Message") == "Value (<\ufffd&>) is bad"


# --- boto 2 ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def boto2() -> dict[str, ModuleType]:
    with warnings.catch_warnings():  # boto 2's vendored six predates find_spec
        warnings.simplefilter("ignore")
        import boto.ec2.keypair
        import boto.ec2.securitygroup
        import boto.exception
        import boto.handler
        import boto.resultset
    return {
        "keypair": boto.ec2.keypair,
        "securitygroup": boto.ec2.securitygroup,
        "exception": boto.exception,
        "handler": boto.handler,
        "resultset": boto.resultset,
    }


def boto2_parse(boto2: dict[str, ModuleType], body: bytes, item_class: type) -> Any:
    result = boto2["resultset"].ResultSet([("item", item_class)])
    xml.sax.parseString(body, boto2["handler"].XmlHandler(result, None))
    return result


def test_boto2_reads_key_pairs(boto2: dict[str, ModuleType]) -> None:
    # boto 2's KeyPair is not a tagged object: a non-empty <tagSet> inside a key pair's
    # <item> ends that item early. Scalars are written before nested lists, so every field
    # boto 2 knows is already set when that happens, tagged or not.
    body = respond("DescribeKeyPairs", {"KeyPairs": KEY_PAIRS})
    pairs = boto2_parse(boto2, body, boto2["keypair"].KeyPair)
    assert [(p.name, p.fingerprint) for p in pairs] == [
        (k["KeyName"], k["KeyFingerprint"]) for k in KEY_PAIRS
    ]
    assert pairs.requestId == "req-1"


def test_special_characters_are_escaped_and_invalid_ones_replaced() -> None:
    data = {"KeyPairs": [{"KeyName": "a<b>&c\r\x01\U0001F600", "KeyFingerprint": "f"}]}
    body = respond("DescribeKeyPairs", data)
    assert b"a&lt;b&gt;&amp;c&#13;\xef\xbf\xbd\xf0\x9f\x98\x80" in body
    parsed = botocore_parse("DescribeKeyPairs", body)
    assert parsed["KeyPairs"][0]["KeyName"] == "a<b>&c\r\ufffd\U0001F600"


def test_boto2_reads_security_groups(boto2: dict[str, ModuleType]) -> None:
    group = {
        "GroupName": "web",
        "GroupId": "sg-1",
        "OwnerId": "123456789012",
        "Description": "Web servers",
        "VpcId": "vpc-1",
        "IpPermissions": [
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "10.0.0.0/8"}],
                "UserIdGroupPairs": [{"GroupId": "sg-2", "UserId": "123456789012"}],
            }
        ],
        "IpPermissionsEgress": [],
        "Tags": [{"Key": "Name", "Value": "w"}],
    }
    body = respond("DescribeSecurityGroups", {"SecurityGroups": [group]})
    (parsed,) = boto2_parse(boto2, body, boto2["securitygroup"].SecurityGroup)
    assert (parsed.name, parsed.id, parsed.vpc_id, parsed.owner_id) == (
        "web",
        "sg-1",
        "vpc-1",
        "123456789012",
    )
    assert parsed.description == "Web servers" and parsed.tags == {"Name": "w"}
    (rule,) = parsed.rules
    assert (rule.ip_protocol, rule.from_port, rule.to_port) == ("tcp", "22", "22")
    assert {g.cidr_ip or g.group_id for g in rule.grants} == {"10.0.0.0/8", "sg-2"}


def test_boto2_reads_the_error_envelope(boto2: dict[str, ModuleType]) -> None:
    body = serialize_ec2_error(
        "InvalidGroup.NotFound", "The security group 'x' does not exist", "r-9"
    )
    err = boto2["exception"].EC2ResponseError(400, "Bad Request", body)
    assert err.error_code == "InvalidGroup.NotFound"
    assert err.error_message == "The security group 'x' does not exist"
    assert err.request_id == "r-9"


def test_unknown_operation_is_none() -> None:
    assert operation_model("NoSuchThing") is None


def test_namespace_follows_the_api_version() -> None:
    op = op_("DescribeRegions")
    body = serialize_ec2_response(op, {}, request_id="r", api_version="2014-10-01")
    assert b'<DescribeRegionsResponse xmlns="http://ec2.amazonaws.com/doc/2014-10-01/">' in body
    for bad in ("", "2014", 'x"/><a', "2014-13-01"):
        with pytest.raises(ValueError):
            serialize_ec2_response(op, {}, request_id="r", api_version=bad)
