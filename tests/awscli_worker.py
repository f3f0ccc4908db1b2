"""A long-lived AWS CLI for the test suite.

It runs the real ``aws`` driver (``awscli.clidriver``) once per command read from stdin (one JSON
line: ``{"args": [...], "env": {...}}``) and answers one JSON line ``{"rc", "stdout", "stderr"}``.
Tests thus drive the AWS CLI in a separate process, with its own environment per command, but
pay Python's start-up and the CLI's imports (over a second a call on the CI machines) only once.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from typing import Any


def _run(args: list[str], env: dict[str, str], base_env: dict[str, str]) -> dict[str, Any]:
    from awscli.clidriver import create_clidriver

    os.environ.clear()
    os.environ.update(base_env | env)
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)
    err = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = create_clidriver().main(args)
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else 1
    stdout = out.buffer.getvalue().decode("utf-8", "replace")  # type: ignore[attr-defined]
    return {"rc": rc, "stdout": stdout, "stderr": err.getvalue()}


def main() -> None:
    import awscli  # noqa: F401  (sets AWS_DATA_PATH, which every command's environment keeps)

    base_env = dict(os.environ)
    reply_to = sys.stdout
    for line in sys.stdin:
        request = json.loads(line)
        reply = _run(request["args"], request["env"], base_env)
        reply_to.write(json.dumps(reply) + "\n")
        reply_to.flush()


if __name__ == "__main__":
    main()
