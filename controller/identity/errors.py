"""Domain errors of the identity service."""

from __future__ import annotations


class IdentityError(Exception):
    """Base of identity errors; ``str(error)`` is safe to show to an operator."""


class NoSuchEntity(IdentityError):
    pass


class EntityAlreadyExists(IdentityError):
    pass


class LimitExceeded(IdentityError):
    pass


class InvalidName(IdentityError):
    pass
