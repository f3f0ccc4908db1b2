"""Typed, lazy access to botocore's ``ec2`` service model.

botocore ships no type information, so its model classes are imported here (and only in the
two codec modules next to this one) and re-exported under their own names. The model is
loaded on first use, never at import time, and then kept for the life of the process.
"""

from __future__ import annotations

import functools

from botocore.loaders import Loader
from botocore.model import OperationModel, ServiceModel, Shape

__all__ = [
    "OperationModel",
    "ServiceModel",
    "Shape",
    "api_version",
    "ec2_service_model",
    "operation_model",
    "operation_names",
    "service_model",
]


@functools.cache
def service_model(name: str) -> ServiceModel:
    """The pinned botocore model of service ``name`` (``ec2``, ``cloudwatch``), loaded once.

    Only botocore's own data directory is searched: a model dropped into ``~/.aws/models``
    or ``AWS_DATA_PATH`` must not change what the server accepts.
    """
    loader = Loader(
        extra_search_paths=[Loader.BUILTIN_DATA_PATH], include_default_search_paths=False
    )
    return ServiceModel(loader.load_service_model(name, "service-2"), service_name=name)


def ec2_service_model() -> ServiceModel:
    """The pinned botocore ``ec2`` service model, loaded once on first call."""
    return service_model("ec2")


@functools.cache
def operation_names() -> frozenset[str]:
    """Every operation name in the model (``DescribeInstances``, ...)."""
    return frozenset(str(name) for name in ec2_service_model().operation_names)


def operation_model(name: str) -> OperationModel | None:
    """The model of operation ``name``, or ``None`` when the model has no such operation."""
    if name not in operation_names():
        return None
    return ec2_service_model().operation_model(name)


def api_version() -> str:
    """The API version of the pinned model, e.g. ``2016-11-15``."""
    return str(ec2_service_model().metadata["apiVersion"])
