"""Hypervisor errors: libvirt's error codes mapped once (in :mod:`.host`) onto these classes.

Callers above the hypervisor layer never see ``libvirt.libvirtError``.
"""

from __future__ import annotations


class HypervisorError(Exception):
    """Base of every error the hypervisor layer raises."""


class HypervisorUnavailable(HypervisorError):
    """No connection to the hypervisor (daemon down, URI wrong, libvirt-python missing)."""


class HypervisorTimeout(HypervisorError):
    """A hypervisor call did not finish before its deadline (it may still complete later)."""


class DomainNotFound(HypervisorError):
    """No domain of that name is defined."""


class DomainExists(HypervisorError):
    """A domain of that name (or UUID) is already defined differently or already running."""


class InvalidDomainState(HypervisorError):
    """The operation does not apply to the domain's current state (e.g. destroy a shut-off one)."""


class HypervisorOperationFailed(HypervisorError):
    """Any other failure reported by the hypervisor."""
