"""The ``ironbark`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from controller.cli import admin
from controller.cli.credentials import render
from controller.config import Settings, load_settings
from controller.runtime import Runtime


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="TOML configuration file")
    parser.add_argument("--data-dir", type=Path, help="data directory")
    parser.add_argument("--database-url", help="SQLAlchemy URL (default: SQLite in the data dir)")


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(
        getattr(args, "config", None),
        data_dir=getattr(args, "data_dir", None),
        database_url=getattr(args, "database_url", None),
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
        with_node=getattr(args, "with_node", None),
    )


def _cmd_up(args: argparse.Namespace) -> int:
    from controller.server import serve

    settings = _settings(args)
    serve(settings, on_started=lambda runtime: _banner(settings, runtime))
    return 0


def _banner(settings: Settings, runtime: Runtime) -> None:
    """What a person starting the all-in-one cloud needs: where it is, how to sign in, and
    (registered in the background on the first start) the demo image."""
    from controller import demo_image

    with runtime.sessions() as session:
        creds = admin.active_credentials(session, runtime.box, None)
    endpoint = admin.endpoint_of(settings)
    print(
        f"Ironbark is up at {endpoint} (region {settings.region}, data in {settings.data_dir}).\n"
        "Admin credentials (also: ironbark admin credentials --format env|aws|boto):\n\n"
        f"{render(creds, 'env', endpoint, settings.region)}\n",
        flush=True,
    )
    demo_image.start(settings)


def _cmd_controller(args: argparse.Namespace) -> int:
    from controller.server import serve

    serve(_settings(args))
    return 0


def _cmd_node(args: argparse.Namespace) -> int:
    from nodeagent.server import serve, teardown_network
    from nodeagent.settings import load_node_settings

    settings = load_node_settings(
        args.config, host=args.host, port=args.port, state_dir=args.state_dir
    )
    if args.teardown_network:
        return teardown_network(settings)
    serve(settings)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ironbark", description="Ironbark private cloud")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, func, text in (
        ("up", _cmd_up, "run the all-in-one cloud in the foreground"),
        ("controller", _cmd_controller, "run the cloud controller"),
    ):
        cmd = sub.add_parser(name, help=text)
        _common(cmd)
        cmd.add_argument("--host", help="listen address (default 127.0.0.1)")
        cmd.add_argument("--port", type=int, help="listen port (default 8773)")
        if name == "up":
            cmd.add_argument(
                "--with-node",
                action="store_true",
                default=None,
                help="also run the node agent in this process (IRONBARK_NODE_* settings), "
                "registered with this controller",
            )
        cmd.set_defaults(func=func)
    node = sub.add_parser("node", help="run the node agent (libvirt guests on this host)")
    node.add_argument("--config", type=Path, help="TOML configuration file")
    node.add_argument("--state-dir", type=Path, help="node state directory")
    node.add_argument("--host", help="API listen address (default 127.0.0.1)")
    node.add_argument("--port", type=int, help="API listen port (default 8774)")
    node.add_argument(
        "--teardown-network",
        action="store_true",
        help="remove the node's bridge, dnsmasq and nftables rules, then exit",
    )
    node.set_defaults(func=_cmd_node)
    admin.add_parser(sub, _common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args, _settings) if args.command == "admin" else args.func(args)
    except admin.AdminError as exc:
        print(f"ironbark: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `ironbark admin credentials | head -1`
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
