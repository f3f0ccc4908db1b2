"""Features Ironbark does not offer. Bucket settings read as on an S3 bucket that never set
them (acceleration, Requester Pays, notifications: empty or default; replication: not
found), with boto3, the AWS CLI and boto 2; writing them is accepted for that same state and
NotImplemented for any other; missing buckets
and other accounts get S3's errors. (Default encryption and SSE-S3 are built:
test_s3_encryption.py; server access logging: test_s3_access_logging.py.)"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from controller.identity.service import Credentials
from tests.conftest import AwsCliError, Server
from tests.e2e.refusals import error_code
from tests.e2e.signing import signed


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"unset-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def test_boto3_reads_them_as_never_set(s3: Any, bucket: str) -> None:
    accelerate = s3.get_bucket_accelerate_configuration(Bucket=bucket)
    assert "Status" not in accelerate
    assert s3.get_bucket_request_payment(Bucket=bucket)["Payer"] == "BucketOwner"
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=bucket)
    notification = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert not any(k.endswith("Configurations") for k in notification)
    assert error_code(s3.get_bucket_encryption, Bucket=bucket) == (
        "ServerSideEncryptionConfigurationNotFoundError", 404)
    assert error_code(s3.get_bucket_replication, Bucket=bucket) == (
        "ReplicationConfigurationNotFoundError", 404)


def test_writes_are_not_implemented_and_errors_are_s3s(s3: Any, bucket: str, server: Server,
                                                        make_s3: Any) -> None:
    assert error_code(s3.put_bucket_notification_configuration, Bucket=bucket,
                      NotificationConfiguration={"TopicConfigurations": [{
                      "TopicArn": "arn:aws:sns:us-east-1:123456789012:t",
                      "Events": ["s3:ObjectCreated:*"]}]}) == ("NotImplemented", 501)
    assert error_code(s3.put_bucket_accelerate_configuration, Bucket=bucket,
                      AccelerateConfiguration={"Status": "Enabled"}) == ("NotImplemented", 501)
    s3.delete_bucket_encryption(Bucket=bucket)  # nothing to delete: 204, as in S3
    s3.delete_bucket_replication(Bucket=bucket)  # likewise
    missing = f"missing-{uuid.uuid4().hex[:12]}"
    assert error_code(s3.get_bucket_logging, Bucket=missing) == ("NoSuchBucket", 404)
    assert error_code(s3.get_bucket_encryption, Bucket=missing) == ("NoSuchBucket", 404)
    other = make_s3(server.new_account())
    assert error_code(other.get_bucket_request_payment, Bucket=bucket) == ("AccessDenied", 403)
    assert error_code(other.get_bucket_replication, Bucket=bucket) == ("AccessDenied", 403)


def test_the_aws_cli_and_boto2_read_them(aws: Any, boto2_s3: Any, s3: Any, bucket: str) -> None:
    assert aws("s3api", "get-bucket-request-payment", "--bucket", bucket) == {
        "Payer": "BucketOwner"}
    assert aws("s3api", "get-bucket-logging", "--bucket", bucket) in (None, {})
    assert aws("s3api", "get-bucket-accelerate-configuration", "--bucket", bucket) in (None, {})
    with pytest.raises(AwsCliError) as caught:
        aws("s3api", "get-bucket-encryption", "--bucket", bucket)
    assert "ServerSideEncryptionConfigurationNotFoundError" in str(caught.value)
    legacy = boto2_s3.get_bucket(bucket)
    assert legacy.get_logging_status().target is None
    assert b"<Payer>BucketOwner</Payer>" in legacy.get_request_payment()


def test_writing_the_state_a_bucket_has_is_accepted(s3: Any, aws: Any, bucket: str,
                                                     server: Server, make_s3: Any) -> None:
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    aws("s3api", "put-bucket-request-payment", "--bucket", bucket,
        "--request-payment-configuration", "Payer=BucketOwner")
    assert s3.get_bucket_request_payment(Bucket=bucket)["Payer"] == "BucketOwner"
    assert error_code(s3.put_bucket_request_payment, Bucket=bucket,
                      RequestPaymentConfiguration={"Payer": "Requester"}) == ("NotImplemented", 501)
    assert error_code(s3.put_bucket_notification_configuration, Bucket=bucket,
                      NotificationConfiguration={"EventBridgeConfiguration": {}}) == (
        "NotImplemented", 501)
    other = make_s3(server.new_account())
    assert error_code(other.put_bucket_notification_configuration, Bucket=bucket,
                      NotificationConfiguration={}) == ("AccessDenied", 403)
    assert error_code(other.put_bucket_request_payment, Bucket=bucket,
                      RequestPaymentConfiguration={"Payer": "BucketOwner"}) == ("AccessDenied", 403)
    missing = f"missing-{uuid.uuid4().hex[:12]}"
    assert error_code(s3.put_bucket_request_payment, Bucket=missing,
                      RequestPaymentConfiguration={"Payer": "BucketOwner"}) == ("NoSuchBucket", 404)


def test_a_payer_s3_does_not_know_is_malformed_xml(server: Server, account: Credentials,
                                                    bucket: str) -> None:
    for body in ((b"<RequestPaymentConfiguration><Payer>Nobody</Payer>"
                 b"</RequestPaymentConfiguration>"), b"<RequestPaymentConfiguration>"):
        reply = signed(account, "PUT", f"{server.endpoint}{bucket}?requestPayment", body)
        assert reply.status_code == 400 and "<Code>MalformedXML</Code>" in reply.text
