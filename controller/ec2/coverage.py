"""Generate ``docs/ec2-coverage.md`` from the action registry: ``python -m controller.ec2.coverage``."""

from __future__ import annotations

import sys
from pathlib import Path

from controller.ec2.registry import actions
from controller.protocol.model import api_version, operation_names

DOC = Path(__file__).resolve().parents[2] / "docs" / "ec2-coverage.md"


def render() -> str:
    implemented = actions()
    names = sorted(operation_names())
    lines = [
        "# EC2 API coverage",
        "",
        "Generated from the action registry by `python -m controller.ec2.coverage`; a test keeps",
        f"it current. The model is botocore's `ec2` service, API version {api_version()}.",
        "",
        f"**{len(implemented)} of {len(names)} actions implemented.**",
        "",
        "| Action | Handler |",
        "|---|---|",
    ]
    for name in sorted(implemented):
        handler = implemented[name].handler
        lines.append(f"| {name} | `{handler.__module__}.{handler.__name__}` |")
    lines += ["", "## Not implemented yet", ""]
    missing = [n for n in names if n not in implemented]
    lines.append(", ".join(missing))
    return "\n".join(lines) + "\n"


def main() -> int:
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(render())
    print(f"wrote {DOC}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
