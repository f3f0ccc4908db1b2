"""The explicit table of EC2 actions: ``@action("DescribeKeyPairs")`` registers a handler.

Handlers take the request context and the parsed parameters (botocore member names, typed) and
return plain data shaped like the operation's botocore output shape.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from controller.ec2.context import RequestContext

Params = dict[str, Any]
Result = Mapping[str, Any]
Handler = Callable[["RequestContext", Params], Result]


@dataclass(frozen=True)
class ActionSpec:
    name: str
    handler: Handler
    mutating: bool


_ACTIONS: dict[str, ActionSpec] = {}


def action(name: str, *, mutating: bool = True) -> Callable[[Handler], Handler]:
    """Register ``handler`` as the implementation of the EC2 action ``name``."""

    def register(handler: Handler) -> Handler:
        if name in _ACTIONS:
            raise RuntimeError(f"EC2 action {name} registered twice")
        _ACTIONS[name] = ActionSpec(name=name, handler=handler, mutating=mutating)
        return handler

    return register


def actions() -> Mapping[str, ActionSpec]:
    """Every registered action; importing ``controller.ec2.actions`` fills the table."""
    import controller.ec2.actions  # noqa: F401  (the handler modules register themselves)

    return _ACTIONS
