"""``python -m stripe_test_server --port 12111`` (also ``lms stripe-test-server``)."""
from __future__ import annotations

import argparse
import asyncio
import logging
import sys

DESCRIPTION = "Stripe-compatible test server (test mode only; not Stripe). See stripe_test_server/README.md."


def build_parser(prog: str = "python -m stripe_test_server") -> argparse.ArgumentParser:
    return add_arguments(argparse.ArgumentParser(prog=prog, description=DESCRIPTION))


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The server's options, also used by ``lms stripe-test-server``."""
    p.add_argument("--port", type=int, default=12111, help="port to listen on (default 12111)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--public-url", help="base URL for hosted pages in object URLs (default http://HOST:PORT)")
    p.add_argument("--webhook-url", help="deliver every event to this URL")
    p.add_argument("--webhook-secret", help="whsec_... secret that signs deliveries to --webhook-url")
    p.add_argument("--state-file", help="keep state in this JSON file across restarts")
    p.add_argument("--retry-base", type=float, default=5.0,
                   help="first webhook retry delay in seconds, doubling each attempt (default 5)")
    p.add_argument("--max-attempts", type=int, default=8, help="webhook delivery attempts before giving up (default 8)")
    p.add_argument("--dispute-delay", type=int, default=2,
                   help="seconds after a 4000000000000259 payment until its dispute opens (default 2)")
    p.add_argument("--async-delay", type=int, default=5,
                   help="seconds until a delayed test payment settles (default 5)")
    p.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    return p


def options(args: argparse.Namespace) -> dict:
    return {k: getattr(args, k) for k in ("host", "port", "public_url", "webhook_url", "webhook_secret", "state_file",
                                          "retry_base", "max_attempts", "dispute_delay", "async_delay")}


async def serve(server, host: str, port: int) -> None:
    app = server.make_app()
    app.listen(port, address=host)
    server.start_background()
    await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


def run(args: argparse.Namespace) -> int:
    from .app import Server

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s stripe-test-server %(message)s")
    try:
        server = Server(**options(args))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"Stripe test server at http://{args.host}:{args.port} (api_base for the stripe SDK; any sk_test_ key)",
          flush=True)
    try:
        asyncio.run(serve(server, args.host, args.port))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
