#!/usr/bin/env bash
# Run the whole test suite (SQLite and PostgreSQL) after making sure the install is current.
# Extra arguments go to pytest: deploy/test.sh tests/unit -x; IRONBARK_TEST_BACKENDS=sqlite
# leaves PostgreSQL out.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$repo/deploy/install.sh"
cd "$repo"
exec .venv/bin/python -m pytest -q "$@"
