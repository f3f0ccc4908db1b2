"""S3 static website hosting end to end: the configuration API with boto3, the AWS CLI and boto 2,
and the website endpoint (``BUCKET.s3-website.localhost``) with a plain HTTP client."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.conftest import Server

Site = Callable[..., httpx.Response]


def code(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    error = exc.value.response
    return error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"web-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name)
    return name


def public(s3: Any, bucket: str, listable: bool = True) -> None:
    """The usual recipe: a bucket policy that lets anyone read every object; with ``listable``
    also list the bucket, without which a missing page is a 403 rather than a 404 (as on S3)."""
    statements = [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                   "Resource": f"arn:aws:s3:::{bucket}/*"}]
    if listable:
        statements.append({"Effect": "Allow", "Principal": "*", "Action": "s3:ListBucket",
                           "Resource": f"arn:aws:s3:::{bucket}"})
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({
        "Version": "2012-10-17", "Statement": statements}))


@pytest.fixture
def site(server: Server) -> Site:
    """GET (or another method) on the website endpoint of a bucket, redirects not followed."""

    def request(bucket: str, path: str = "/", method: str = "GET",
                headers: dict[str, str] | None = None) -> httpx.Response:
        host = f"{bucket}.s3-website.localhost:{server.port}"
        return httpx.request(method, f"http://127.0.0.1:{server.port}{path}",
                             headers={"Host": host, **(headers or {})}, follow_redirects=False,
                             trust_env=False, timeout=30)

    return request


INDEX = {"IndexDocument": {"Suffix": "index.html"}, "ErrorDocument": {"Key": "error.html"}}


def test_configuration_round_trip(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as caught:
        s3.get_bucket_website(Bucket=bucket)
    assert code(caught) == ("NoSuchWebsiteConfiguration", 404)
    rules = [{"Condition": {"KeyPrefixEquals": "docs/"},
              "Redirect": {"ReplaceKeyPrefixWith": "documents/", "HttpRedirectCode": "302"}}]
    s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration={**INDEX, "RoutingRules": rules})
    got = s3.get_bucket_website(Bucket=bucket)
    assert got["IndexDocument"] == {"Suffix": "index.html"}
    assert got["ErrorDocument"] == {"Key": "error.html"}
    assert got["RoutingRules"] == rules
    s3.delete_bucket_website(Bucket=bucket)
    with pytest.raises(ClientError) as caught:
        s3.get_bucket_website(Bucket=bucket)
    assert code(caught) == ("NoSuchWebsiteConfiguration", 404)


@pytest.mark.parametrize("config, expected", [
    ({"RedirectAllRequestsTo": {"HostName": "example.com"},
      "IndexDocument": {"Suffix": "index.html"}}, ("InvalidArgument", 400)),
    ({"IndexDocument": {"Suffix": ""}}, ("InvalidArgument", 400)),
    ({"IndexDocument": {"Suffix": "a/index.html"}}, ("InvalidArgument", 400)),
    ({"ErrorDocument": {"Key": "error.html"}}, ("InvalidArgument", 400)),
    ({"IndexDocument": {"Suffix": "index.html"},
      "RoutingRules": [{"Redirect": {"ReplaceKeyWith": "a", "ReplaceKeyPrefixWith": "b"}}]},
     ("InvalidRequest", 400)),
    ({"IndexDocument": {"Suffix": "index.html"},
      "RoutingRules": [{"Redirect": {"HttpRedirectCode": "200"}}]}, ("InvalidRequest", 400)),
    ({"RedirectAllRequestsTo": {"HostName": "example.com", "Protocol": "ftp"}},
     ("InvalidRequest", 400)),
])
def test_bad_configurations_are_refused(s3: Any, bucket: str, config: dict[str, Any],
                                        expected: tuple[str, int]) -> None:
    with pytest.raises(ClientError) as caught:
        s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration=config)
    assert code(caught) == expected
    with pytest.raises(ClientError) as caught:
        s3.get_bucket_website(Bucket=bucket)
    assert code(caught) == ("NoSuchWebsiteConfiguration", 404)


def test_aws_cli_configures_a_website(aws: Any, s3: Any, bucket: str) -> None:
    aws("s3", "website", f"s3://{bucket}", "--index-document", "home.html",
        "--error-document", "oops.html")
    got = aws("s3api", "get-bucket-website", "--bucket", bucket)
    assert got["IndexDocument"] == {"Suffix": "home.html"}
    assert got["ErrorDocument"] == {"Key": "oops.html"}
    aws("s3api", "delete-bucket-website", "--bucket", bucket)
    with pytest.raises(ClientError):
        s3.get_bucket_website(Bucket=bucket)


def test_boto2_configures_a_website(boto2_s3: Any) -> None:
    bucket = boto2_s3.create_bucket(f"web2-{uuid.uuid4().hex[:12]}")
    assert bucket.configure_website("index.html", "error.html") is True
    config = bucket.get_website_configuration()
    suffix = config["WebsiteConfiguration"]["IndexDocument"]["Suffix"]
    assert suffix == "index.html"
    assert bucket.delete_website_configuration() is True


def test_index_documents_and_folders(s3: Any, bucket: str, site: Site) -> None:
    s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration=INDEX)
    public(s3, bucket, listable=False)
    s3.put_object(Bucket=bucket, Key="index.html", Body=b"<h1>home</h1>",
                  ContentType="text/html")
    s3.put_object(Bucket=bucket, Key="blog/index.html", Body=b"<h1>blog</h1>",
                  ContentType="text/html")
    s3.put_object(Bucket=bucket, Key="style.css", Body=b"body{}", ContentType="text/css")
    home = site(bucket)
    assert (home.status_code, home.content) == (200, b"<h1>home</h1>")
    assert home.headers["content-type"] == "text/html"
    assert site(bucket, "/blog/").content == b"<h1>blog</h1>"
    folder = site(bucket, "/blog")
    assert (folder.status_code, folder.headers["location"]) == (302, "/blog/")
    css = site(bucket, "/style.css")
    assert (css.status_code, css.headers["content-type"]) == (200, "text/css")
    again = site(bucket, "/style.css", headers={"If-None-Match": css.headers["etag"]})
    assert again.status_code == 304
    head = site(bucket, "/style.css", method="HEAD")
    assert (head.status_code, head.content, head.headers["content-length"]) == (200, b"", "6")
    assert site(bucket, "/missing.html").status_code == 403  # may not list: S3 answers 403


def test_errors_as_html_and_the_error_document(s3: Any, bucket: str, site: Site) -> None:
    s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration={
        "IndexDocument": {"Suffix": "index.html"}})
    public(s3, bucket)
    missing = site(bucket, "/nope.html")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert "<li>Code: NoSuchKey</li>" in missing.text
    assert "<li>Key: nope.html</li>" in missing.text
    s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration=INDEX)
    no_doc = site(bucket, "/nope.html")
    assert no_doc.status_code == 404
    assert "Custom Error Document" in no_doc.text
    s3.put_object(Bucket=bucket, Key="error.html", Body=b"sorry", ContentType="text/html")
    custom = site(bucket, "/nope.html")
    assert (custom.status_code, custom.content) == (404, b"sorry")
    assert site(bucket, "/", method="POST").status_code == 405


def test_private_objects_are_forbidden(s3: Any, bucket: str, site: Site) -> None:
    s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration={
        "IndexDocument": {"Suffix": "index.html"}})
    s3.put_object(Bucket=bucket, Key="index.html", Body=b"secret")
    denied = site(bucket)
    assert denied.status_code == 403
    assert "<li>Code: AccessDenied</li>" in denied.text
    assert b"secret" not in denied.content


def test_buckets_without_a_website(s3: Any, bucket: str, site: Site) -> None:
    none = site(bucket)
    assert none.status_code == 404
    assert "NoSuchWebsiteConfiguration" in none.text
    gone = site(f"nobucket-{uuid.uuid4().hex[:12]}")
    assert gone.status_code == 404
    assert "NoSuchBucket" in gone.text


def test_redirects(s3: Any, bucket: str, site: Site) -> None:
    s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration={
        "IndexDocument": {"Suffix": "index.html"},
        "RoutingRules": [
            {"Condition": {"KeyPrefixEquals": "docs/"},
             "Redirect": {"ReplaceKeyPrefixWith": "documents/", "HttpRedirectCode": "302"}},
            {"Condition": {"HttpErrorCodeReturnedEquals": "404"},
             "Redirect": {"HostName": "fallback.example.com", "Protocol": "https",
                          "ReplaceKeyWith": "missing.html"}},
        ]})
    public(s3, bucket)
    moved = site(bucket, "/docs/guide.html")
    assert moved.status_code == 302
    assert moved.headers["location"].startswith(f"http://{bucket}.s3-website.localhost:")
    assert moved.headers["location"].endswith("/documents/guide.html")
    lost = site(bucket, "/lost.html")
    assert (lost.status_code, lost.headers["location"]) == (
        301, "https://fallback.example.com/missing.html")
    s3.put_object(Bucket=bucket, Key="old.html", Body=b"", WebsiteRedirectLocation="/new.html")
    old = site(bucket, "/old.html")
    assert (old.status_code, old.headers["location"]) == (301, "/new.html")


def test_redirect_all_requests(s3: Any, bucket: str, site: Site) -> None:
    s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration={
        "RedirectAllRequestsTo": {"HostName": "www.example.com", "Protocol": "https"}})
    reply = site(bucket, "/a/b.html")
    assert (reply.status_code, reply.headers["location"]) == (
        301, "https://www.example.com/a/b.html")
