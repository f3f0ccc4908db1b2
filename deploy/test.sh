#!/usr/bin/env bash
# Run the whole test suite (SQLite and PostgreSQL) after making sure the install is current.
# As root, the machine is first made a hypervisor host (deploy/host-setup.sh: libvirt, QEMU,
# the [node] extra), so that the tests that boot real guests run; otherwise only the project
# venv is installed (deploy/install.sh) and those tests skip, unless
# IRONBARK_REQUIRE_HOST_TESTS=1 makes them fail (CI sets it).
# Extra arguments go to pytest: deploy/test.sh tests/unit -x; IRONBARK_TEST_BACKENDS=sqlite
# leaves PostgreSQL out.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ "$(id -u)" == 0 ]]; then
    "$repo/deploy/host-setup.sh"
else
    "$repo/deploy/install.sh"
fi
cd "$repo"
exec .venv/bin/python -m pytest -q "$@"
