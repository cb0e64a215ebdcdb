"""``python -m stripe_test_server --port 12111`` (also ``lms stripe-test-server``)."""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

DESCRIPTION = "Stripe-compatible test server (test mode only; not Stripe). See stripe_test_server/README.md."


def build_parser(prog: str = "python -m stripe_test_server") -> argparse.ArgumentParser:
    return add_arguments(argparse.ArgumentParser(prog=prog, description=DESCRIPTION))


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The server's options, also used by ``lms stripe-test-server``."""
    p.add_argument("--port", type=int, default=12111, help="port to listen on (default 12111)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--public-url", help="base URL for hosted pages in object URLs (default http://HOST:PORT)")
    p.add_argument("--webhook-url", help="deliver every event to this URL")
    # secrets never go on a command line, where `ps` shows them to every user of the machine
    p.add_argument("--webhook-secret", help=argparse.SUPPRESS)
    p.add_argument("--webhook-secret-file",
                   help="file (mode 0600) holding the whsec_... secret that signs deliveries to --webhook-url; "
                        "or set STRIPE_WEBHOOK_SECRET in the environment")
    p.add_argument("--api-key-file",
                   help="file (mode 0600) holding the sk_test_... key the API and the /_test controls answer to; "
                        "or set STRIPE_SECRET_KEY in the environment (default: a random key, printed at start)")
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


def _secret(env_name: str, path: str | None) -> str | None:
    if path:
        return Path(path).read_text().strip() or None
    return os.environ.get(env_name) or None


def options(args: argparse.Namespace) -> dict:
    opts = {k: getattr(args, k) for k in ("host", "port", "public_url", "webhook_url", "state_file",
                                          "retry_base", "max_attempts", "dispute_delay", "async_delay")}
    opts["webhook_secret"] = _secret("STRIPE_WEBHOOK_SECRET", args.webhook_secret_file)
    opts["api_key"] = _secret("STRIPE_SECRET_KEY", args.api_key_file)
    return opts


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
    if os.environ.get("LMS_DEMO") == "0":
        print("error: the Stripe test server runs only in demo mode (LMS_DEMO=1); a platform outside demo mode "
              "takes payments through Stripe itself (LMS_STRIPE_SECRET_KEY, see README.md)", file=sys.stderr)
        return 2
    if args.webhook_secret:
        print("error: --webhook-secret is not accepted (a command line is visible to every user): put the secret "
              "in the environment (STRIPE_WEBHOOK_SECRET) or in a 0600 file (--webhook-secret-file)", file=sys.stderr)
        return 2
    try:
        opts = options(args)
        server = Server(**opts)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    key_note = "the key from STRIPE_SECRET_KEY / --api-key-file" if opts["api_key"] else f"API key {server.api_key}"
    print(f"Stripe test server at http://{args.host}:{args.port} (api_base for the stripe SDK; {key_note})",
          flush=True)
    try:
        asyncio.run(serve(server, args.host, args.port))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
