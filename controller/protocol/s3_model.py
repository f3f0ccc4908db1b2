"""Typed, lazy access to botocore's ``s3`` service model, and what that model lacks.

Like :mod:`controller.protocol.model` for EC2: the model is loaded on first use, never at
import time, from botocore's own data directory only, and kept for the life of the process.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from types import MappingProxyType

from botocore.loaders import Loader
from botocore.model import OperationModel, ServiceModel, Shape

__all__ = [
    "ROOT_NAMES",
    "TEXT_ROOTS",
    "OperationModel",
    "ServiceModel",
    "Shape",
    "s3_operation",
    "s3_operation_names",
    "s3_service_model",
]


#: What the model lacks: the XML root of every response whose body is the output shape
#: itself (no S3 output shape has a ``locationName``), as the S3 API reference names it.
#: A structure payload is rooted at its member's name instead (``CopyObjectResult``,
#: ``CopyPartResult``, ``PolicyStatus``, ``Retention``, ...).
ROOT_NAMES: Mapping[str, str] = MappingProxyType({
    "CompleteMultipartUpload": "CompleteMultipartUploadResult",
    "CreateMultipartUpload": "InitiateMultipartUploadResult",
    "CreateSession": "CreateSessionResult",
    "DeleteObjects": "DeleteResult",
    "GetBucketAccelerateConfiguration": "AccelerateConfiguration",
    "GetBucketAcl": "AccessControlPolicy",
    "GetBucketCors": "CORSConfiguration",
    "GetBucketLifecycle": "LifecycleConfiguration",
    "GetBucketLifecycleConfiguration": "LifecycleConfiguration",
    "GetBucketLocation": "LocationConstraint",
    "GetBucketLogging": "BucketLoggingStatus",
    "GetBucketNotification": "NotificationConfiguration",
    "GetBucketNotificationConfiguration": "NotificationConfiguration",
    "GetBucketRequestPayment": "RequestPaymentConfiguration",
    "GetBucketTagging": "Tagging",
    "GetBucketVersioning": "VersioningConfiguration",
    "GetBucketWebsite": "WebsiteConfiguration",
    "GetObjectAcl": "AccessControlPolicy",
    "GetObjectAttributes": "GetObjectAttributesResponse",
    "GetObjectTagging": "Tagging",
    "ListBucketAnalyticsConfigurations": "ListBucketAnalyticsConfigurationResult",
    "ListBucketIntelligentTieringConfigurations": (
        "ListBucketIntelligentTieringConfigurationsOutput"
    ),
    "ListBucketInventoryConfigurations": "ListInventoryConfigurationsResult",
    "ListBucketMetricsConfigurations": "ListMetricsConfigurationsResult",
    "ListBuckets": "ListAllMyBucketsResult",
    "ListDirectoryBuckets": "ListAllMyDirectoryBucketsResult",
    "ListMultipartUploads": "ListMultipartUploadsResult",
    "ListObjectAnnotations": "ListObjectAnnotationsOutput",
    "ListObjectVersions": "ListVersionsResult",
    "ListObjects": "ListBucketResult",
    "ListObjectsV2": "ListBucketResult",
    "ListParts": "ListPartsResult",
    "PutObjectAnnotation": "PutObjectAnnotationOutput",
})
#: Roots whose text is the output's one member (botocore reads it in a handler).
TEXT_ROOTS = frozenset({"GetBucketLocation"})


@functools.cache
def s3_service_model() -> ServiceModel:
    """The pinned botocore ``s3`` service model, loaded once on first call.

    Only botocore's own data directory is searched: a model dropped into ``~/.aws/models``
    or ``AWS_DATA_PATH`` must not change what the server accepts.
    """
    loader = Loader(
        extra_search_paths=[Loader.BUILTIN_DATA_PATH], include_default_search_paths=False
    )
    return ServiceModel(loader.load_service_model("s3", "service-2"), service_name="s3")


@functools.cache
def s3_operation_names() -> frozenset[str]:
    """Every operation name in the model (``ListObjectsV2``, ...)."""
    return frozenset(str(name) for name in s3_service_model().operation_names)


@functools.cache
def s3_operation(name: str) -> OperationModel:
    """The model of operation ``name``; ``KeyError`` when the model has no such operation.

    Cached, so every caller gets the same object (the codec caches its plans per shape).
    """
    if name not in s3_operation_names():
        raise KeyError(name)
    return s3_service_model().operation_model(name)
