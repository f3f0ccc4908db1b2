"""Running host networking tools (ip, nft, dnsmasq) off the event loop, with errors that say what failed."""

from __future__ import annotations

import asyncio


class NetworkError(Exception):
    """A host networking command failed."""


async def run(*argv: str, stdin: str | None = None, check: bool = True) -> tuple[int, str]:
    """Run ``argv``; returns (exit status, stdout). Raises :class:`NetworkError` on failure."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except FileNotFoundError as exc:
        raise NetworkError(f"{argv[0]} not found (deploy/host-setup.sh installs it)") from exc
    out, err = await asyncio.wait_for(
        proc.communicate(stdin.encode() if stdin is not None else None), timeout=30
    )
    code = proc.returncode if proc.returncode is not None else -1
    if check and code != 0:
        message = err.decode(errors="replace").strip()
        raise NetworkError(f"{' '.join(argv)} failed ({code}): {message}")
    return code, out.decode(errors="replace")
