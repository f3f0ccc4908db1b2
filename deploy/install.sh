#!/usr/bin/env bash
# Install what the Ironbark controller needs on Debian 12 / Ubuntu, idempotently:
#   - apt packages, only those missing: python3 (>= 3.11) and its venv module. Nothing is
#     compiled: every Python dependency ships binary wheels (psycopg[binary] brings its own
#     libpq), so no gcc, python3-dev or libpq-dev.
#   - .venv in the repository (created with the distribution's python3 when it is >= 3.11, else
#     the first python3 >= 3.11 on PATH) and the project installed
#     editable with its test extras. pip runs only when pyproject.toml (or the Python) changed.
# Root is needed only to install missing apt packages (run it with sudo; the venv is then
# created as the owner of the checkout, not as root). PYTHON=/path/to/python3.x picks the Python.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo/.venv"
stamp="$venv/.ironbark-install-stamp"
export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1

say() { echo "install: $*" >&2; }
die() { say "error: $*"; exit 1; }

# Run a command as the owner of the checkout (who may not be root when we run under sudo).
owner="$(stat -c %U "$repo")"
as_owner() {
    if [[ "$(id -u)" == 0 && "$owner" != root ]]; then
        runuser -u "$owner" -- env HOME="$(getent passwd "$owner" | cut -d: -f6)" "$@"
    else
        "$@"
    fi
}

apt_install() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$pkg")
    done
    [[ ${#missing[@]} == 0 ]] && return 0
    command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get: install them by hand"
    local sudo=()
    if [[ "$(id -u)" != 0 ]]; then
        sudo -n true 2>/dev/null || die "need root to install ${missing[*]}: run sudo $0"
        sudo=(sudo -n)
    fi
    say "installing apt packages: ${missing[*]}"
    "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq
    "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Usable by the owner of the checkout (a root-only pyenv shim is not) and >= 3.11?
py_ok() { as_owner "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; }

# The interpreter: $PYTHON, else the distribution's /usr/bin/python3, else python3 or a newer
# python3.x on PATH. The distribution's comes first even when PATH names another (pyenv, a
# hand-built one): Debian and Ubuntu build it with PGO and LTO, and the API server answered
# 5-14 % more S3 requests/s on it than on a plain pyenv build of 3.11, same packages, same run
# (docs/s3-performance.md, session 10).
find_python() {
    local candidate path
    # shellcheck disable=SC2086  # a word list on purpose
    for candidate in ${PYTHON:-/usr/bin/python3 python3 python3.13 python3.12 python3.11}; do
        path="$(command -v "$candidate")" && py_ok "$path" && echo "$path" && return 0
    done
    return 1
}

if [[ -x "$venv/bin/python" ]]; then
    py_ok "$venv/bin/python" \
        || die "$venv is unusable or older than Python 3.11: remove it and run $0 again"
else
    command -v python3 >/dev/null || apt_install python3
    python="$(find_python)" || die "Python >= 3.11 is required; found $(python3 --version 2>&1).
    On Ubuntu 22.04: sudo apt-get install python3.11 python3.11-venv, then PYTHON=python3.11 $0"
    say "creating $venv with $python ($("$python" --version 2>&1))"
    if ! as_owner "$python" -m venv "$venv" 2>/dev/null; then
        # Debian and Ubuntu ship the venv module's pip wheels separately, in pythonX.Y-venv.
        rm -rf "$venv"
        [[ "$python" == /usr/bin/* ]] || die "$python -m venv does not work"
        apt_install "python$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')-venv"
        as_owner "$python" -m venv "$venv" || { rm -rf "$venv"; die "$python -m venv failed"; }
    fi
fi

want="$(cat "$repo/pyproject.toml" <("$venv/bin/python" --version) | sha256sum | cut -d' ' -f1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -x "$venv/bin/ironbark" ]]; then
    say "up to date ($venv)"
    exit 0
fi
say "installing ironbark and its test tools into $venv (pip; log in $venv/pip-install.log)"
if ! as_owner sh -c 'cd "$1" && "$2" -m pip install -e ".[test]" >"$3" 2>&1' \
        sh "$repo" "$venv/bin/python" "$venv/pip-install.log"; then
    tail -n 40 "$venv/pip-install.log" >&2
    die "pip install failed (whole log: $venv/pip-install.log)"
fi
as_owner sh -c 'printf "%s\n" "$1" > "$2"' sh "$want" "$stamp"
say "done: $venv/bin/ironbark"
