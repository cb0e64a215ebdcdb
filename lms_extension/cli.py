"""The ``lms`` command line."""
from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
from pathlib import Path

from .config import ConfigError, LMSConfig
from .errors import LMSError, SchemaMismatch

log = logging.getLogger("lms")


def _engine(config: LMSConfig):
    from .db import make_engine

    return make_engine(config.db_url)


def cmd_db_upgrade(args, config: LMSConfig) -> int:
    from .db import current_revision, upgrade

    engine = _engine(config)
    before = current_revision(engine)
    upgrade(engine, args.revision)
    print(f"database {engine.url.render_as_string(hide_password=True)}: {before or 'empty'} -> {current_revision(engine)}")
    return 0


def cmd_course_import(args, config: LMSConfig) -> int:
    from .db import check_revision, session_factory, session_scope
    from .services.course_import import course_folders, import_folders
    from .services.storage import from_config as storage_from_config

    engine = _engine(config)
    check_revision(engine)
    folders = [f for path in args.paths for f in course_folders(path)]
    with session_scope(session_factory(engine)) as session:
        courses = import_folders(session, folders, publish=getattr(args, "publish", False),
                                 store=storage_from_config(config))
        for course in courses:
            print(f"imported {course.slug}: {course.title} ({len(course.lessons)} lessons, "
                  f"{'free' if course.is_free else f'{course.price_cents} {course.currency}'})")
    return 0


def cmd_service(args, config: LMSConfig) -> int:
    from .service import main

    main(config)
    return 0


def cmd_worker(args, config: LMSConfig) -> int:
    from .worker import main

    logging.getLogger("lms").setLevel(logging.INFO)
    return main(config, once=args.once, concurrency=args.concurrency)


def cmd_autograde(args, config: LMSConfig) -> int:
    from graders.autograde import main

    return main(args.rest)


def cmd_judge0(args, config: LMSConfig) -> int:
    """The API with its submissions in the LMS database (LMS_DB_URL), so that several
    servers on one database answer for each other's tokens."""
    from graders.judge0.app import main

    def database_store(judge0_config):
        from .db import check_revision, current_revision, session_factory, upgrade
        from .services.judge0_submissions import DatabaseStore

        engine = _engine(config)
        if current_revision(engine) is None:
            upgrade(engine)  # a new, empty database: nothing to migrate, nothing to lose
        check_revision(engine)
        return DatabaseStore(session_factory(engine), judge0_config.submission_ttl)

    return main(args.rest, make_store=database_store) or 0


def cmd_payments_reconcile(args, config: LMSConfig) -> int:
    from .db import check_revision, session_factory
    from .services.payments.reconcile import run_once

    engine = _engine(config)
    check_revision(engine)
    report = run_once(session_factory(engine), config)
    print(f"checked {report.sessions} checkout sessions, {report.charges} charges, "
          f"{report.subscriptions} subscriptions; repaired: {', '.join(report.changed) or 'nothing'}")
    for error in report.errors:
        print(f"error: {error}", file=sys.stderr)
    return 1 if report.errors else 0


def cmd_payments_payout_run(args, config: LMSConfig) -> int:
    from .db import check_revision, session_factory, session_scope
    from .services.payments import payouts
    from .services.payments.stripe_client import from_config

    engine = _engine(config)
    check_revision(engine)
    with session_scope(session_factory(engine)) as session:
        report = payouts.run(session, from_config(config), run_key=args.run_key)
    for instructor_id, cents, currency in report.paid:
        print(f"paid instructor {instructor_id}: {cents / 100:.2f} {currency.upper()}")
    for line in report.skipped:
        print(f"skipped {line}")
    print(f"payout run {report.run_key}: {len(report.paid)} transfer(s)")
    return 0


def cmd_config_show(args, config: LMSConfig) -> int:
    """The effective settings and where each came from; secrets are masked."""
    rows = [("setting", "variable", "value", "from"), *config.effective()]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for name, var, value, source in rows:
        print(f"{name:<{widths[0]}}  {var:<{widths[1]}}  {value:<{widths[2]}}  {source}".rstrip())
    return 0


def demo_password(data_dir: Path, configured: str = "") -> tuple[str, bool]:
    """The configured password (``LMS_DEMO_PASSWORD``), else one generated once and kept in the
    data folder."""
    if configured:
        return configured, False
    path = data_dir / "demo-password"
    if path.exists():
        return path.read_text().strip(), False
    password = secrets.token_urlsafe(12)
    data_dir.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(password + "\n")
    return password, True


def seed_demo_offers(config: LMSConfig) -> None:
    """The bundles and coupons of ``<courses_dir>/offers.toml`` that do not exist yet."""
    from .db import session_factory, session_scope
    from .services.payments import offers

    path = Path(config.courses_dir) / "offers.toml"
    if not path.is_file():
        return
    spec = offers.load(path)
    with session_scope(session_factory(_engine(config))) as session:
        for line in offers.apply(session, spec):
            print(f"created {line}")


def cmd_run(args, config: LMSConfig) -> int:
    """Set up (database, demo courses) and start JupyterHub with the LMS service."""
    from hub_config import settings as hub_settings

    settings = hub_settings.load(config)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # the hub this process becomes, and the services it starts, run in the data folder and load
    # the same configuration: absolute paths, whatever the current folder was. Handed to the
    # hub's environment at exec; this process's own environment stays as it was loaded.
    hub_env = dict(os.environ, LMS_DATA_DIR=str(settings.data_dir))
    if config.config_file:
        hub_env["LMS_CONFIG_FILE"] = str(Path(config.config_file).resolve())
    cmd_db_upgrade(argparse.Namespace(revision="head"), config)
    if settings.demo:
        cmd_course_import(argparse.Namespace(paths=[config.courses_dir]), config)
        seed_demo_offers(config)
        password, generated = demo_password(settings.data_dir, config.demo_password)
        hub_env["LMS_DEMO_PASSWORD"] = password  # for the hub this process becomes
        print(f"\nDemo users admin, instructor, student, student2 — password: {password}"
              f"{' (generated, kept in ' + str(settings.data_dir / 'demo-password') + ')' if generated else ''}")
    print(f"Jupyter LMS at {settings.public_url}/services/lms/\n", flush=True)
    hub_config_file = Path(__file__).resolve().parent.parent / "hub_config" / "jupyterhub_config.py"
    argv = [sys.executable, "-m", "jupyterhub", "-f", str(hub_config_file)]
    os.chdir(settings.data_dir)
    os.execve(sys.executable, argv + list(args.rest), hub_env)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lms", description="Jupyter LMS: a Jupyter-native course marketplace")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="set up and start JupyterHub + the LMS service (demo mode by default)")
    p.add_argument("rest", nargs=argparse.REMAINDER, help="extra arguments for jupyterhub")
    p.set_defaults(func=cmd_run)
    sub.add_parser("service", help="run the LMS service (JupyterHub starts it)").set_defaults(func=cmd_service)
    p = sub.add_parser("worker", help="grade queued notebook submissions (run as many as you like)")
    p.add_argument("--once", action="store_true", help="stop when the queue is empty")
    p.add_argument("--concurrency", type=int, default=1, help="jobs graded at once by this process")
    p.set_defaults(func=cmd_worker)
    p = sub.add_parser("autograde", help="drop-in for `nbgrader autograde` on a plain nbgrader course directory",
                       add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER, help="ASSIGNMENT --course-dir DIR [--student S] [--force]")
    p.set_defaults(func=cmd_autograde)
    p = sub.add_parser("judge0", help="the Judge0-compatible code execution API, standalone", add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER, help="--port 2358 --host 127.0.0.1 --auth-token ...")
    p.set_defaults(func=cmd_judge0)
    pay = sub.add_parser("payments", help="Stripe payments").add_subparsers(dest="payments_command", required=True)
    pay.add_parser("reconcile", help="repair orders, refunds and subscriptions that lost webhooks missed"
                   ).set_defaults(func=cmd_payments_reconcile)
    p = pay.add_parser("payout-run", help="transfer instructors' available earnings (Stripe Connect)")
    p.add_argument("--run-key", default=None, help="names the run; rerunning the same key pays nothing twice "
                                                    "(default: today's date)")
    p.set_defaults(func=cmd_payments_payout_run)
    from stripe_test_server.__main__ import DESCRIPTION, add_arguments, run as run_stripe_test_server

    p = sub.add_parser("stripe-test-server", help="the bundled Stripe-compatible test server (test infrastructure)",
                       description=DESCRIPTION)
    add_arguments(p).set_defaults(func=lambda args, config: run_stripe_test_server(args))
    db = sub.add_parser("db", help="database schema").add_subparsers(dest="db_command", required=True)
    p = db.add_parser("upgrade", help="upgrade the schema with Alembic")
    p.add_argument("revision", nargs="?", default="head")
    p.set_defaults(func=cmd_db_upgrade)
    cfg = sub.add_parser("config", help="settings").add_subparsers(dest="config_command", required=True)
    cfg.add_parser("show", help="print the effective settings (config file, LMS_* environment, defaults), "
                                "secrets masked").set_defaults(func=cmd_config_show)
    course = sub.add_parser("course", help="courses as files").add_subparsers(dest="course_command", required=True)
    p = course.add_parser("import", help="validate and import course folders (course.toml + notebooks)")
    p.add_argument("paths", nargs="+", help="a course folder, or a folder of course folders")
    p.set_defaults(func=cmd_course_import)
    p = course.add_parser("publish", help="import, store changed notebooks as new lesson versions "
                                          "(nbgrader's generate step), and make the course visible")
    p.add_argument("paths", nargs="+", help="a course folder, or a folder of course folders")
    p.set_defaults(func=cmd_course_import, publish=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    parser = build_parser()
    # Commands that hand their options to another program's parser (`rest`): argparse's
    # REMAINDER does not take options that come first (`lms judge0 --port 2358`).
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        if not hasattr(args, "rest"):
            parser.error(f"unrecognized arguments: {' '.join(unknown)}")
        args.rest = [*unknown, *args.rest]
    try:
        config = LMSConfig().freeze()  # loaded once; every command reads this one, read-only
        return args.func(args, config) or 0
    except (ConfigError, LMSError, SchemaMismatch) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
