"""Round-trips the S3 REST-XML codec against botocore and boto 2, plus the hardened parser.

``s3_sample`` builds a rich value for any S3 shape (maps included) on top of the EC2 tests'
``sample_value``, so both directions run over every operation of the pinned model.
"""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from xml.etree import ElementTree

import pytest
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from controller.protocol.s3_errors import MalformedXML
from controller.protocol.s3_model import (
    ROOT_NAMES,
    OperationModel,
    Shape,
    s3_operation,
    s3_operation_names,
)
from controller.protocol.s3_xml import (
    MAX_XML_BYTES,
    S3_NAMESPACE,
    S3Response,
    parse_s3_input_xml,
    parse_xml,
    serialize_s3_output,
)
from tests.protocol.test_query_parser import sample_value

NAMES = sorted(s3_operation_names())
DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
WHEN = datetime(2026, 11, 21, 1, 2, 3, 456000, tzinfo=UTC)


def s3_sample(shape: Shape, path: str = "", lists: int = 0) -> Any:
    """Like ``sample_value`` (every member set, lists of 2 then 1), plus maps."""
    kind = shape.type_name
    if kind == "structure":
        return {
            name: s3_sample(member, f"{path}.{name}", lists)
            for name, member in shape.members.items()
            if name not in shadowed(shape)
        }
    if kind == "list":
        count = 2 if lists == 0 else 1
        return [s3_sample(shape.member, f"{path}.{i}", lists + 1) for i in range(count)]
    if kind == "map":  # only user metadata (x-amz-meta-*): header-safe keys
        return {"color": s3_sample(shape.value, f"{path}.v"), "size-class": "large"}
    return sample_value(shape, path)


def shadowed(shape: Shape) -> set[str]:
    """Members the model gives the element name of a flattened list (the deprecated scalar
    ``Event`` beside ``Events`` in the old notification shapes): neither S3 nor botocore can
    tell them apart, so samples leave them out."""
    flat = {
        m.member.serialization.get("name", m.serialization.get("name", name))
        for name, m in shape.members.items()
        if m.type_name == "list" and m.serialization.get("flattened")
    }
    return {
        name for name, m in shape.members.items()
        if m.type_name != "list" and m.serialization.get("name", name) in flat
    }


def scrub(shape: Shape, value: Any) -> Any:
    """``value`` without the shadowed members botocore fills with stray list elements."""
    if shape.type_name == "structure" and isinstance(value, dict):
        hidden = shadowed(shape)
        return {
            name: scrub(shape.members[name], item)
            for name, item in value.items()
            if name not in hidden
        }
    if shape.type_name == "list" and isinstance(value, list):
        return [scrub(shape.member, item) for item in value]
    return value


def payload_of(shape: Shape | None) -> tuple[str | None, Shape | None]:
    if shape is None or "payload" not in shape.serialization:
        return None, None
    name = shape.serialization["payload"]
    return name, shape.members[name]


def streamed(member: Shape | None) -> bool:
    return member is not None and (
        member.type_name == "blob" or bool(member.serialization.get("eventstream"))
    )


def expected_from_botocore(shape: Shape, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` as botocore reads it back: header dates lose their sub-seconds."""
    expected = dict(data)
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        fmt = member.serialization.get("timestampFormat", "rfc822")
        if location == "header" and member.type_name == "timestamp" and fmt != "iso8601":
            expected[name] = data[name].replace(microsecond=0)
    return expected


def botocore_parse(op: OperationModel, response: S3Response) -> dict[str, Any]:
    wire = {"body": response.body or b"", "headers": dict(response.headers),
            "status_code": response.status}
    parsed: dict[str, Any] = create_parser("rest-xml").parse(wire, op.output_shape)
    parsed.pop("ResponseMetadata")
    return parsed


# --- outputs: every operation through botocore's parser ------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_generated_output_round_trips(name: str) -> None:
    op = s3_operation(name)
    shape: Shape | None = op.output_shape
    data = s3_sample(shape) if shape is not None else {}
    response = serialize_s3_output(op, data)
    assert response.status == op.http.get("responseCode", 200)
    if shape is None:
        assert response == S3Response(response.status, [], None)
        return
    payload, member = payload_of(shape)
    if member is not None and member.serialization.get("eventstream"):
        assert response.body is None  # the caller encodes and streams the events
        return
    parsed = scrub(shape, botocore_parse(op, response))
    expected = expected_from_botocore(shape, data)
    if streamed(member):  # the caller streams it; botocore reads whatever body there is
        assert response.body is None and payload is not None
        del expected[payload], parsed[payload]
    if name == "GetBucketLocation":  # botocore's own handler reads the root's text
        assert response.body is not None
        assert ElementTree.fromstring(response.body).text == expected["LocationConstraint"]
        parsed["LocationConstraint"] = ElementTree.fromstring(response.body).text
    assert parsed == expected


@pytest.mark.parametrize("name", NAMES)
def test_xml_bodies_are_rooted_in_the_s3_namespace(name: str) -> None:
    op = s3_operation(name)
    payload, member = payload_of(op.output_shape)
    data = s3_sample(op.output_shape) if op.output_shape is not None else {}
    body = serialize_s3_output(op, data).body
    if member is not None and member.type_name == "structure" and not streamed(member):
        expected_root = member.serialization.get("name", payload)
    else:
        expected_root = ROOT_NAMES.get(name)
    if expected_root is None:
        assert body is None or (member is not None and member.type_name == "string")
        return
    assert body is not None and body.startswith(DECLARATION)
    assert parse_xml(body).tag == f"{{{S3_NAMESPACE}}}{expected_root}"


def test_root_table_lists_exactly_the_unnamed_xml_outputs() -> None:
    needing = set()
    for name in NAMES:
        shape = s3_operation(name).output_shape
        if shape is None or "payload" in shape.serialization:
            continue
        if any("location" not in m.serialization for m in shape.members.values()):
            needing.add(name)
    assert set(ROOT_NAMES) == needing
    assert ROOT_NAMES["ListObjectsV2"] == ROOT_NAMES["ListObjects"] == "ListBucketResult"


def test_list_objects_v2_golden() -> None:
    data = {
        "Name": "photos",
        "Prefix": "",
        "KeyCount": 2,
        "MaxKeys": 1000,
        "IsTruncated": False,
        "Contents": [
            {"Key": "a&b.jpg", "LastModified": WHEN, "ETag": '"e1"', "Size": 3,
             "StorageClass": "STANDARD", "ChecksumAlgorithm": ["CRC32"]},
            {"Key": "c<d", "LastModified": WHEN, "ETag": '"e2"', "Size": 0, "Owner": {"ID": "o"}},
        ],
        "CommonPrefixes": [{"Prefix": "dir/"}],
        "RequestCharged": "requester",
    }
    response = serialize_s3_output(s3_operation("ListObjectsV2"), data)
    assert response.status == 200
    assert response.headers == [
        ("x-amz-request-charged", "requester"), ("Content-Type", "application/xml")
    ]
    assert response.body == DECLARATION + (
        f'<ListBucketResult xmlns="{S3_NAMESPACE}"><IsTruncated>false</IsTruncated>'
        "<Name>photos</Name><Prefix></Prefix><MaxKeys>1000</MaxKeys><KeyCount>2</KeyCount>"
        "<Contents><Key>a&amp;b.jpg</Key><LastModified>2026-11-21T01:02:03.456Z</LastModified>"
        "<ETag>\"e1\"</ETag><Size>3</Size><StorageClass>STANDARD</StorageClass>"
        "<ChecksumAlgorithm>CRC32</ChecksumAlgorithm></Contents>"
        "<Contents><Key>c&lt;d</Key><LastModified>2026-11-21T01:02:03.456Z</LastModified>"
        "<ETag>\"e2\"</ETag><Size>0</Size><Owner><ID>o</ID></Owner></Contents>"
        "<CommonPrefixes><Prefix>dir/</Prefix></CommonPrefixes></ListBucketResult>"
    ).encode()


def test_acl_grantee_type_is_an_xsi_attribute() -> None:
    grant = {"Grantee": {"Type": "CanonicalUser", "ID": "abc"}, "Permission": "READ"}
    body = serialize_s3_output(
        s3_operation("GetObjectAcl"), {"Owner": {"ID": "abc"}, "Grants": [grant]}
    ).body
    assert body is not None and (
        b'<AccessControlList><Grant><Permission>READ</Permission><Grantee xmlns:xsi='
        b'"http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>abc</ID>'
        b"</Grantee></Grant></AccessControlList>"
    ) in body


def test_headers_status_and_metadata() -> None:
    data = {
        "ContentLength": 5,
        "LastModified": datetime(2026, 11, 21, 2, 2, 3, 999000, tzinfo=timezone(timedelta(hours=1))),
        "DeleteMarker": False,
        "ObjectLockRetainUntilDate": WHEN,
        "Metadata": {"color": "blue"},
        "Body": b"streamed by the caller",
    }
    response = serialize_s3_output(s3_operation("GetObject"), data)
    assert response == S3Response(200, [
        ("x-amz-delete-marker", "false"),
        ("Last-Modified", "Sat, 21 Nov 2026 01:02:03 GMT"),
        ("Content-Length", "5"),
        ("x-amz-object-lock-retain-until-date", "2026-11-21T01:02:03.456Z"),
        ("x-amz-meta-color", "blue"),
    ], None)
    naive = serialize_s3_output(s3_operation("HeadObject"), {"LastModified": datetime(2026, 1, 2)})
    assert naive.headers == [("Last-Modified", "Fri, 02 Jan 2026 00:00:00 GMT")]
    assert serialize_s3_output(s3_operation("DeleteObject"), {}).status == 204
    policy = serialize_s3_output(s3_operation("GetBucketPolicy"), {"Policy": '{"a": "é"}'})
    assert policy.body == '{"a": "é"}'.encode() and policy.headers == []


def test_empty_lists_and_location() -> None:
    tagging = serialize_s3_output(s3_operation("GetBucketTagging"), {"TagSet": []}).body
    assert tagging == DECLARATION + f'<Tagging xmlns="{S3_NAMESPACE}"><TagSet/></Tagging>'.encode()
    listing = serialize_s3_output(s3_operation("ListObjects"), {"Contents": [], "Name": "b"}).body
    assert listing is not None and b"Contents" not in listing
    for value in (None, ""):
        body = serialize_s3_output(s3_operation("GetBucketLocation"), {"LocationConstraint": value})
        assert body.body == DECLARATION + f'<LocationConstraint xmlns="{S3_NAMESPACE}"/>'.encode()


def test_text_is_escaped_like_the_ec2_codec() -> None:
    from controller.protocol import s3_xml, xml_serializer

    chars = [chr(c) for c in range(0x11000) if not 0xD800 <= c < 0xE000] + ["\U0010ffff"]
    for char in chars:  # the fast single-class scan flags exactly what _escape would change
        flagged = s3_xml._SPECIAL.search(char) is not None
        assert flagged == (xml_serializer._escape(char) != char), hex(ord(char))
    tags = {"TagSet": [{"Key": "a\rb\x01c", "Value": "<&>\"'"}]}
    body = serialize_s3_output(s3_operation("GetObjectTagging"), tags).body
    assert body is not None and b"<Key>a&#13;b\xef\xbf\xbdc</Key><Value>&lt;&amp;&gt;\"'</Value>" in body
    assert parse_s3_input_xml(payload_shape("PutObjectTagging"), body) == {
        "TagSet": [{"Key": "a\rb\ufffdc", "Value": "<&>\"'"}]
    }


def test_output_programming_errors() -> None:
    with pytest.raises(ValueError, match="Nmae"):
        serialize_s3_output(s3_operation("ListObjectsV2"), {"Nmae": "b"})
    with pytest.raises(ValueError, match="Kye"):
        serialize_s3_output(s3_operation("ListObjectsV2"), {"Contents": [{"Kye": "k"}]})
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        serialize_s3_output(s3_operation("HeadObject"), {"Metadata": {"a": "x\r\nSet-Cookie: y"}})
    with pytest.raises(TypeError):
        serialize_s3_output(s3_operation("ListObjectsV2"), {"KeyCount": "2"})



# --- inputs: every XML request body from botocore's serializer ------------------------------


def xml_payload(name: str) -> tuple[str, Shape] | None:
    payload, member = payload_of(s3_operation(name).input_shape)
    if payload is None or member is None or member.type_name != "structure":
        return None
    return payload, member


XML_INPUTS = [name for name in NAMES if xml_payload(name) is not None]


def botocore_body(name: str, params: dict[str, Any]) -> bytes:
    body: bytes = create_serializer("rest-xml").serialize_to_request(
        params, s3_operation(name)
    )["body"]
    return body


@pytest.mark.parametrize("name", XML_INPUTS)
def test_generated_input_round_trips(name: str) -> None:
    payload, shape = xml_payload(name)  # type: ignore[misc]
    params = s3_sample(s3_operation(name).input_shape)
    body = botocore_body(name, params)
    expected = whole_seconds_where_rfc822(shape, params[payload])
    assert parse_s3_input_xml(shape, body) == expected
    bare = body.replace(f' xmlns="{S3_NAMESPACE}"'.encode(), b"")  # namespace is optional
    assert bare != body and parse_s3_input_xml(shape, bare) == expected


def whole_seconds_where_rfc822(shape: Shape, value: Any) -> Any:
    """``value`` as it survives the wire: RFC 1123 timestamps carry whole seconds only."""
    if shape.type_name == "structure":
        return {k: whole_seconds_where_rfc822(shape.members[k], v) for k, v in value.items()}
    if shape.type_name == "list":
        return [whole_seconds_where_rfc822(shape.member, v) for v in value]
    if shape.serialization.get("timestampFormat") == "rfc822":
        return value.replace(microsecond=0)
    return value


def test_xml_inputs_cover_the_usual_bodies() -> None:
    assert {
        "CreateBucket", "DeleteObjects", "CompleteMultipartUpload", "PutBucketTagging",
        "PutObjectTagging", "PutBucketVersioning", "PutBucketAcl", "PutObjectAcl",
        "PutBucketCors", "PutBucketLifecycleConfiguration", "PutBucketWebsite",
    } <= set(XML_INPUTS)
    assert len(XML_INPUTS) > 35


def payload_shape(name: str) -> Shape:
    found = xml_payload(name)
    assert found is not None
    return found[1]


def test_hand_written_bodies() -> None:
    delete = (
        b"<?xml version='1.0' encoding='UTF-8'?>\n<Delete>\n  <Quiet> TRUE </Quiet>\n"
        b"  <!-- a comment --><Object><Key>a <![CDATA[&]]><?pi x?> b</Key></Object>\n"
        b"  <Object><Key> </Key><VersionId>v1</VersionId></Object>\n</Delete>"
    )
    assert parse_s3_input_xml(payload_shape("DeleteObjects"), delete) == {
        "Quiet": True,
        "Objects": [{"Key": "a & b"}, {"Key": " ", "VersionId": "v1"}],
    }
    complete = (
        b'<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        b"<Part><PartNumber>1</PartNumber><ETag>\"e1\"</ETag></Part>"
        b"<Part><ETag>e2</ETag><PartNumber>2</PartNumber></Part></CompleteMultipartUpload>"
    )
    assert parse_s3_input_xml(payload_shape("CompleteMultipartUpload"), complete) == {
        "Parts": [{"PartNumber": 1, "ETag": '"e1"'}, {"ETag": "e2", "PartNumber": 2}]
    }
    config = payload_shape("CreateBucket")
    assert parse_s3_input_xml(config, b"<CreateBucketConfiguration/>") == {}
    located = b"<X><LocationConstraint>eu-west-1</LocationConstraint></X>"  # root not checked
    assert parse_s3_input_xml(config, located) == {"LocationConstraint": "eu-west-1"}
    tagging = b"<Tagging><TagSet/></Tagging>"
    assert parse_s3_input_xml(payload_shape("PutBucketTagging"), tagging) == {"TagSet": []}


def test_timestamps_become_aware_utc() -> None:
    shape = payload_shape("PutObjectRetention")
    for text in ("2026-11-21T01:02:03Z", "2026-11-21T01:02:03.000Z", "2026-11-21T02:02:03+01:00",
                 "2026-11-21T01:02:03"):
        body = f"<Retention><RetainUntilDate>{text}</RetainUntilDate></Retention>".encode()
        parsed = parse_s3_input_xml(shape, body)["RetainUntilDate"]
        assert parsed == datetime(2026, 11, 21, 1, 2, 3, tzinfo=UTC) and parsed.tzinfo is UTC


def test_grantee_type_attribute() -> None:
    acl = (
        b'<AccessControlPolicy><AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/'
        b'2001/XMLSchema-instance" xsi:type="Group"><URI>http://acs.amazonaws.com/groups/global/'
        b"AllUsers</URI></Grantee><Permission>READ</Permission></Grant></AccessControlList>"
        b"<Owner><ID>o</ID></Owner></AccessControlPolicy>"
    )
    grantee = {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"}
    assert parse_s3_input_xml(payload_shape("PutBucketAcl"), acl) == {
        "Grants": [{"Grantee": grantee, "Permission": "READ"}], "Owner": {"ID": "o"}
    }


@pytest.mark.parametrize(
    ("output", "input_"),
    [("GetBucketAcl", "PutBucketAcl"), ("GetObjectTagging", "PutObjectTagging"),
     ("GetBucketLifecycleConfiguration", "PutBucketLifecycleConfiguration"),
     ("GetBucketCors", "PutBucketCors"), ("GetBucketWebsite", "PutBucketWebsite")],
)
def test_what_we_write_we_read(output: str, input_: str) -> None:
    """A configuration read back (Get*) can be sent again (Put*) unchanged."""
    shape = payload_shape(input_)
    data = s3_sample(shape)
    body = serialize_s3_output(s3_operation(output), data).body
    assert body is not None and parse_s3_input_xml(shape, body) == data


def test_parser_is_per_thread() -> None:
    body = b"<Delete>" + b"<Object><Key>k</Key></Object>" * 200 + b"</Delete>"
    shape = payload_shape("DeleteObjects")
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: parse_s3_input_xml(shape, body), range(32)))
    assert all(len(r["Objects"]) == 200 for r in results)


# --- inputs: refused --------------------------------------------------------------------------

XXE = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><Tagging>' \
    b"<TagSet><Tag><Key>&e;</Key><Value>v</Value></Tag></TagSet></Tagging>"
LAUGHS = b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">' + b"".join(
    f'<!ENTITY lol{i} "{("&lol" + str(i - 1 or "") + ";") * 10}">'.encode() for i in range(1, 10)
) + b"]><Tagging><TagSet><Tag><Key>&lol9;</Key><Value>v</Value></Tag></TagSet></Tagging>"
REFUSED = {
    "xxe": XXE,
    "billion laughs": LAUGHS,
    "external dtd": b'<!DOCTYPE Tagging SYSTEM "http://127.0.0.1:9/evil.dtd"><Tagging/>',
    "parameter entity": b'<!DOCTYPE x [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]><Tagging/>',
    "utf-16 doctype": '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE Tagging><Tagging/>'
    .encode("utf-16"),
    "undeclared entity": b"<Tagging><TagSet><Tag><Key>&e;</Key></Tag></TagSet></Tagging>",
    "empty": b"",
    "truncated": b"<Tagging><TagSet><Tag><Key>k</Key>",
    "not xml": b"Key=k&Value=v",
    "two roots": b"<Tagging/><Tagging/>",
    "bad tag nesting": b"<Tagging><TagSet></Tagging></TagSet>",
    "unknown element": b"<Tagging><TagSet/><Extra/></Tagging>",
    "wrong list item": b"<Tagging><TagSet><Tagg><Key>k</Key><Value>v</Value></Tagg></TagSet></Tagging>",
    "repeated element": b"<Tagging><TagSet/><TagSet/></Tagging>",
    "missing required": b"<Tagging><TagSet><Tag><Key>k</Key></Tag></TagSet></Tagging>",
    "element in text": b"<Tagging><TagSet><Tag><Key>k<b/></Key><Value>v</Value></Tag></TagSet></Tagging>",
    "text in structure": b"<Tagging>oops<TagSet/></Tagging>",
    "text in list": b"<Tagging><TagSet>oops</TagSet></Tagging>",
    "tail text": b"<Tagging><TagSet/>oops</Tagging>",
}


@pytest.mark.parametrize("body", REFUSED.values(), ids=list(REFUSED))
def test_refused_bodies(body: bytes) -> None:
    with pytest.raises(MalformedXML) as caught:
        parse_s3_input_xml(payload_shape("PutBucketTagging"), body)
    assert caught.value.message == str(caught.value) == (
        "The XML you provided was not well-formed or did not validate against our published schema"
    )
    assert caught.value.detail and caught.value.__cause__ is None


@pytest.mark.parametrize(
    ("name", "element", "value"),
    [
        ("CompleteMultipartUpload", "PartNumber", "one"),
        ("CompleteMultipartUpload", "PartNumber", "1.5"),
        ("CompleteMultipartUpload", "PartNumber", "2147483648"),
        ("CompleteMultipartUpload", "PartNumber", "0x10"),
        ("CompleteMultipartUpload", "PartNumber", ""),
        ("DeleteObjects", "Quiet", "yes"),
        ("DeleteObjects", "Quiet", "1"),
        ("PutObjectRetention", "RetainUntilDate", "yesterday"),
        ("PutObjectRetention", "RetainUntilDate", "2026-13-01T00:00:00Z"),
    ],
)
def test_wrong_types(name: str, element: str, value: str) -> None:
    bodies = {
        "CompleteMultipartUpload": "<C><Part><PartNumber>{}</PartNumber></Part></C>",
        "DeleteObjects": "<Delete><Object><Key>k</Key></Object><Quiet>{}</Quiet></Delete>",
        "PutObjectRetention": "<Retention><RetainUntilDate>{}</RetainUntilDate></Retention>",
    }
    assert element in bodies[name]
    with pytest.raises(MalformedXML, match="not well-formed"):
        parse_s3_input_xml(payload_shape(name), bodies[name].format(value).encode())


def test_size_cap() -> None:
    shape = payload_shape("DeleteObjects")
    objects = b"<Object><Key>k</Key></Object>" * 1000
    body = b"<Delete>" + objects + b"</Delete>"
    assert len(parse_s3_input_xml(shape, body)["Objects"]) == 1000
    padded = b"<Delete>" + b" " * MAX_XML_BYTES + b"</Delete>"
    with pytest.raises(MalformedXML) as caught:
        parse_s3_input_xml(shape, padded)
    assert "exceeds" in caught.value.detail
    with pytest.raises(MalformedXML):
        parse_xml(body, max_bytes=len(body) - 1)
    assert parse_xml(body, max_bytes=len(body)).tag == "Delete"


def test_model_is_not_loaded_at_import() -> None:
    code = (
        "import controller.protocol.s3_xml\n"
        "from controller.protocol.s3_model import s3_service_model\n"
        "assert s3_service_model.cache_info().currsize == 0\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unknown_operation() -> None:
    with pytest.raises(KeyError):
        s3_operation("LaunchRocket")
    assert s3_operation("ListObjectsV2") is s3_operation("ListObjectsV2")


# --- boto 2 reads our listings as it reads S3's ---------------------------------------------


class FakeResponse:
    def __init__(self, response: S3Response) -> None:
        self.status, self.reason, self._body = response.status, "OK", response.body or b""

    def read(self) -> bytes:
        return self._body


def boto2_connection(pages: dict[str, S3Response]) -> Any:
    """A boto 2 ``S3Connection`` whose requests are answered from ``pages``, by query."""
    from boto.s3.connection import S3Connection

    requests: list[str] = []

    class Connection(S3Connection):  # type: ignore[misc]
        def make_request(self, method: str, bucket: str = "", key: str = "",
                         headers: Any = None, data: str = "", query_args: Any = None,
                         *args: Any, **kwargs: Any) -> FakeResponse:
            requests.append(query_args or "")
            marker = dict(p.split("=", 1) for p in (query_args or "").split("&") if "=" in p)
            return FakeResponse(pages[marker.get("marker", "")])

    connection = Connection("AKIDEXAMPLE", "secret", host="s3.example.test")
    connection.requests = requests
    return connection


def test_boto2_lists_buckets() -> None:
    data = {
        "Owner": {"ID": "o-1", "DisplayName": "me"},
        "Buckets": [
            {"Name": "photos", "CreationDate": WHEN},
            {"Name": "logs", "CreationDate": datetime(2020, 1, 2, tzinfo=UTC)},
        ],
    }
    connection = boto2_connection({"": serialize_s3_output(s3_operation("ListBuckets"), data)})
    buckets = connection.get_all_buckets()
    assert [(b.name, b.creation_date) for b in buckets] == [
        ("photos", "2026-11-21T01:02:03.456Z"), ("logs", "2020-01-02T00:00:00.000Z")
    ]


def listing(keys: list[str], truncated: bool, next_marker: str | None = None) -> S3Response:
    data: dict[str, Any] = {
        "Name": "photos", "Prefix": "", "Marker": "", "MaxKeys": 2, "IsTruncated": truncated,
        "NextMarker": next_marker,
        "Contents": [
            {"Key": key, "LastModified": WHEN, "ETag": f'"{i:032x}"', "Size": 10 * i,
             "StorageClass": "STANDARD", "Owner": {"ID": "o-1", "DisplayName": "me"}}
            for i, key in enumerate(keys)
        ],
        "CommonPrefixes": [{"Prefix": "dir/"}] if truncated else [],
    }
    return serialize_s3_output(s3_operation("ListObjects"), data)


def test_boto2_bucket_lister_pages_through_list_bucket_result() -> None:
    from boto.s3.bucket import Bucket
    from boto.s3.prefix import Prefix

    pages = {
        "": listing(["a & b", "c<d"], truncated=True, next_marker="c<d"),
        "c%3Cd": listing(["é"], truncated=False),
    }
    connection = boto2_connection(pages)
    bucket = Bucket(connection, "photos")
    keys = list(bucket.list())  # boto.s3.bucketlistresultset.BucketListResultSet
    assert [k.name for k in keys if not isinstance(k, Prefix)] == ["a & b", "c<d", "é"]
    assert [p.name for p in keys if isinstance(p, Prefix)] == ["dir/"]
    first = keys[0]
    assert (first.size, first.etag, first.storage_class) == (0, f'"{0:032x}"', "STANDARD")
    assert first.last_modified == "2026-11-21T01:02:03.456Z" and first.owner.id == "o-1"
    assert keys[1].size == 10 and first.bucket is bucket
    page = bucket.get_all_keys()
    assert page.is_truncated and page.next_marker == "c<d" and page.Name == "photos"
    assert page.prefix == "" and page.MaxKeys == "2"
    assert connection.requests[-1] == "" and len(connection.requests) == 3
