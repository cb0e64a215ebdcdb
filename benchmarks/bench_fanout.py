"""An announcement to 10,000 enrolled students: fanned out by a real ``lms worker`` (a notice in
the bell and an email each) to a local aiosmtpd server, with the worker killed (SIGKILL) twice
on the way - halfway through the notices, then halfway through the emails - and restarted.

Prints the seconds from the post to the last email received and the counts: notices = 10,000,
emails received = 10,000 unique Message-IDs, duplicates = 0, lost = 0. Target: <= 60 s on two
cores.

    .venv/bin/python -m benchmarks.bench_fanout [--students 10000] [--db-url postgresql+psycopg://...]
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from aiosmtpd.controller import Controller
from sqlalchemy import func, insert, select

from lms_extension.db import make_engine, session_factory, upgrade
from lms_extension.models import Course, Enrollment, Instructor, User
from lms_extension.models.mail import MailOutbox
from lms_extension.models.notifications import Notification
from lms_extension.services import announcements, mail
from tests.e2e.platform import free_port

MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.M | re.I)
WORKER_ENV = {  # a short lease, so that a restarted worker takes over a killed one's batch soon
    "LMS_MAIL_LEASE_SECONDS": "6", "LMS_SMTP_TIMEOUT_SECONDS": "2", "LMS_MAIL_BATCH_SIZE": "100",
    "LMS_WORKER_POLL_SECONDS": "0.2", "LMS_MAIL_CONNECTIONS": "2"}


class Sink:
    """Counts what arrives by Message-ID (the header is read from the raw bytes: cheap)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.ids: Counter = Counter()
        self.last_at = 0.0

    async def handle_DATA(self, server, session, envelope):
        match = MESSAGE_ID.search(envelope.original_content or envelope.content)
        with self.lock:
            self.ids[match.group(1) if match else b"?"] += 1
            self.last_at = time.monotonic()
        return "250 OK"

    def received(self) -> int:
        with self.lock:
            return sum(self.ids.values())


def seed(factory, students: int):
    now = datetime.now(timezone.utc)
    with factory() as s:
        teacher = User(hub_name="teacher", display_name="Teacher", is_instructor=True, email="teacher@example.org")
        s.add(teacher)
        s.flush()
        instructor = Instructor(user_id=teacher.id, headline="", bio="")
        s.add(instructor)
        s.flush()
        course = Course(slug="big-class", title="Big class", subtitle="", description="", category="Programming",
                        level="beginner", language="en", price_cents=0, currency="usd", published=True,
                        instructor_id=instructor.id)
        s.add(course)
        s.flush()
        rows = [{"hub_name": f"student{i:05d}", "display_name": f"Student {i}", "email": f"student{i:05d}@example.org",
                 "is_instructor": False, "is_admin": False, "created_at": now, "last_seen_at": now}
                for i in range(students)]
        for start in range(0, students, 2000):
            s.execute(insert(User), rows[start:start + 2000])
        ids = s.scalars(select(User.id).where(User.hub_name.like("student%"))).all()
        enrollments = [{"user_id": uid, "course_id": course.id, "source": "free", "created_at": now} for uid in ids]
        for start in range(0, len(enrollments), 5000):
            s.execute(insert(Enrollment), enrollments[start:start + 5000])
        s.commit()
        return teacher.id, course.id


def start_worker(db_url: str, data_dir: Path, smtp_port: int, log_path: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LMS_")}
    env.update({"LMS_DB_URL": db_url, "LMS_DATA_DIR": str(data_dir), "LMS_DEMO": "0",
                "LMS_SMTP_HOST": "127.0.0.1", "LMS_SMTP_PORT": str(smtp_port), "LMS_SMTP_STARTTLS": "0",
                "LMS_SMTP_FROM": "Jupyter LMS <noreply@lms.test>",
                "LMS_TRENDING_REFRESH_SECONDS": "0", "LMS_ANALYTICS_REFRESH_SECONDS": "0",
                "LMS_JUDGE0_EXPIRY_SECONDS": "0", "LMS_RECONCILE_INTERVAL_SECONDS": "0",
                "LMS_CHECKOUT_EXPIRY_SECONDS": "0", "LMS_WISHLIST_DELIVERY_SECONDS": "0", **WORKER_ENV})
    return subprocess.Popen([sys.executable, "-m", "lms_extension.cli", "worker"], env=env,
                            stdout=open(log_path, "ab"), stderr=subprocess.STDOUT)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--students", type=int, default=10_000)
    ap.add_argument("--db-url", default="", help="default: a fresh SQLite file; a PostgreSQL database is emptied")
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--connections", type=int, default=2, help="LMS_MAIL_CONNECTIONS of the worker")
    args = ap.parse_args(argv)
    WORKER_ENV["LMS_MAIL_CONNECTIONS"] = str(args.connections)
    work = Path(tempfile.mkdtemp(prefix="bench-fanout-"))
    db_url = args.db_url or f"sqlite:///{work / 'lms.sqlite'}"
    engine = make_engine(db_url)
    if engine.url.get_backend_name() == "postgresql":
        from sqlalchemy import text
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    upgrade(engine)
    factory = session_factory(engine)
    t = time.monotonic()
    teacher_id, course_id = seed(factory, args.students)
    print(f"seeded {args.students:,} enrolled students in {time.monotonic() - t:.1f}s ({engine.url.get_backend_name()})")

    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port, server_hostname="lms.test")
    controller.start()
    log_path = work / "worker.log"
    workers: list[subprocess.Popen] = []
    kills: list[str] = []
    try:
        started = time.monotonic()
        with factory() as s:  # what the instructor's request does
            item = announcements.post(s, s.get(User, teacher_id), s.get(Course, course_id), "Deadline moved",
                                      "Lesson 2 is now due **Friday**. See the course page.")
            s.commit()
            key, announcement_id = f"announcement:{item.id}", item.id
        request_ms = (time.monotonic() - started) * 1000
        workers.append(start_worker(db_url, work, port, log_path))

        def notices() -> int:
            with factory() as s:
                return s.scalar(select(func.count()).select_from(Notification).where(Notification.dedupe_key == key))

        fanned_out = [None]

        def wait(predicate, what):
            deadline = time.monotonic() + args.timeout
            while not predicate():
                if fanned_out[0] is None and notices() >= args.students:
                    fanned_out[0] = time.monotonic() - started
                if time.monotonic() > deadline:
                    raise SystemExit(f"timed out waiting for {what}; worker log: {log_path}")
                if workers[-1].poll() is not None:
                    raise SystemExit(f"the worker exited; see {log_path}")
                time.sleep(0.1)

        half = args.students // 2
        wait(lambda: notices() >= half // 2, "the fan-out to start")
        if notices() < args.students:
            workers[-1].send_signal(signal.SIGKILL)
            workers[-1].wait()
            kills.append(f"during the fan-out ({notices():,} notices, {sink.received():,} emails)")
            workers.append(start_worker(db_url, work, port, log_path))
        wait(lambda: sink.received() >= half, "half of the emails")
        workers[-1].send_signal(signal.SIGKILL)
        workers[-1].wait()
        kills.append(f"during delivery ({notices():,} notices, {sink.received():,} emails)")
        workers.append(start_worker(db_url, work, port, log_path))

        def everything_sent() -> bool:
            with factory() as s:
                counts = mail.outbox_counts(s)
            return counts["queued"] == counts["sending"] == 0 and counts["sent"] + counts["failed"] + counts["dead"] \
                >= args.students
        wait(everything_sent, "every email to be sent")
        total = sink.last_at - started
        time.sleep(1.0)  # nothing more arrives
        with factory() as s:
            in_app = notices()
            outbox = mail.outbox_counts(s)
            in_doubt = [r.message_key for r in mail.problems(s, limit=10_000)
                        if (r.last_error or "").startswith(mail.IN_DOUBT)]
            keys = {f"<{k}@lms.test>".encode() for k in s.scalars(select(MailOutbox.message_key))}
            progress = announcements.progress(s, s.get(announcements.Announcement, announcement_id))
    finally:
        for proc in workers:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(20)
        controller.stop()
    received = sink.ids
    duplicates = sum(n - 1 for n in received.values() if n > 1)
    lost = len(keys - set(received))
    print(f"\nannouncement posted (the request): {request_ms:.0f} ms")
    print("worker settings: " + " ".join(f"{k}={v}" for k, v in WORKER_ENV.items()))
    print(f"worker killed with SIGKILL {len(kills)} times: " + "; ".join(kills))
    print(f"in-app notices: all {args.students:,} after {fanned_out[0] or 0:.1f} s")
    print(f"total: {total:.1f} s from the post to the last email received")
    print(f"in-app rows: {in_app:,}  emails in the outbox: {sum(outbox.values()):,} {outbox}")
    print(f"emails received: {sum(received.values()):,}  unique: {len(received):,}  duplicates: {duplicates}  "
          f"lost: {lost}  counted as sent in doubt: {len(in_doubt)}")
    print(f"staff page progress: sent to {progress['reached']:,} of {progress['students']:,} (done: {progress['done']})")
    ok = (in_app == args.students and len(received) == args.students and duplicates == 0 and lost == 0)
    print(f"\ntarget: everything once within 60 s -> {'met' if ok and total <= 60 else 'NOT met'}")
    engine.dispose()
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
