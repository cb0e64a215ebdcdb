"""Course Q&A with 100,000 posts in one course: the thread list and a thread page, through the
real LMS service over HTTP, loaded with `wrk` (as ``bench_catalog``).

The service runs as ``lms service`` does, on a fresh database bulk-loaded with 5,000 threads of
20 posts each; a stand-in for the hub's API answers the one question the service asks it (who
owns this token?), so every request is a real authenticated member of the course. Prints
req/s, p50 and p99 per endpoint; target p99 <= 50 ms.

    .venv/bin/python -m benchmarks.bench_forum [--threads 5000] [--posts-per-thread 20] [--db-url ...]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import insert, select, text

from benchmarks.bench_catalog import wait_up, wrk
from lms_extension import permissions
from lms_extension.db import make_engine, session_factory, upgrade
from lms_extension.models import Course, Enrollment, Instructor, User
from lms_extension.models.forum import ForumPost, ForumThread
from lms_extension.services import forum
from tests.e2e.platform import free_port

TOKEN = "bench-forum-student-token"
STUDENT = "student00001"

# the hub's GET /hub/api/user for the one token: the member's model with the LMS scopes
HUB_API = """
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
MODEL = json.loads(sys.argv[2])
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        ok = self.path.rstrip("/").endswith("/user") and self.headers.get("Authorization") == "token " + sys.argv[3]
        body = json.dumps(MODEL if ok else {"status": 403, "message": "no"}).encode()
        self.send_response(200 if ok else 403)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def seed(factory, threads: int, per_thread: int, students: int = 200) -> int:
    """The course with ``threads`` threads of ``per_thread`` posts each; a thread id in the middle."""
    now = datetime.now(timezone.utc)
    body = ("I get `KeyError: 'total'` in cell 4 when the frame is empty.\n\n```python\n"
            "df.groupby('k')['total'].sum()\n```\n\nWhat am I missing?")
    html = forum.render(body)
    with factory() as s:
        teacher = User(hub_name="teacher", display_name="Teacher", is_instructor=True)
        s.add(teacher)
        s.flush()
        instructor = Instructor(user_id=teacher.id, headline="", bio="")
        s.add(instructor)
        s.flush()
        course = Course(slug="big-qa", title="Big Q&A", subtitle="", description="", category="Programming",
                        level="beginner", language="en", price_cents=0, currency="usd", published=True,
                        instructor_id=instructor.id)
        s.add(course)
        s.flush()
        s.execute(insert(User), [{"hub_name": f"student{i:05d}", "display_name": f"Student {i}", "is_instructor": False,
                                  "is_admin": False, "created_at": now - timedelta(days=90), "last_seen_at": now}
                                 for i in range(students)])
        ids = s.scalars(select(User.id).where(User.hub_name.like("student%")).order_by(User.id)).all()
        s.execute(insert(Enrollment), [{"user_id": uid, "course_id": course.id, "source": "free",
                                        "created_at": now - timedelta(days=90)} for uid in ids])
        start = now - timedelta(days=60)
        thread_rows = [{"course_id": course.id, "author_id": ids[t % len(ids)], "kind": "question" if t % 3 else "discussion",
                        "title": f"KeyError in cell {t % 12} of lesson {t % 8} (question {t})", "private": False,
                        "pinned": t < 3, "locked": False, "closed": False, "staff_answered": t % 4 == 0,
                        "reply_count": per_thread - 1, "last_post_id": 0,
                        "created_at": start + timedelta(minutes=t), "last_activity_at": start + timedelta(minutes=t + 30),
                        "hidden": False} for t in range(threads)]
        for i in range(0, threads, 2000):
            s.execute(insert(ForumThread), thread_rows[i:i + 2000])
        thread_ids = s.scalars(select(ForumThread.id).where(ForumThread.course_id == course.id)
                               .order_by(ForumThread.id)).all()
        posts = []
        for n, tid in enumerate(thread_ids):
            for p in range(per_thread):
                posts.append({"thread_id": tid, "author_id": ids[(n + p) % len(ids)], "opening": p == 0, "body": body,
                              "html": html, "anonymous": False, "endorsed": False, "by_staff": False,
                              "score": p % 5, "mentions": "[]",
                              "created_at": start + timedelta(minutes=n, seconds=p)})
            if len(posts) >= 20_000:
                s.execute(insert(ForumPost), posts)
                posts = []
        if posts:
            s.execute(insert(ForumPost), posts)
        # each thread's newest post id (unread marks) as the service keeps it
        s.execute(text("UPDATE forum_threads SET last_post_id = (SELECT MAX(id) FROM forum_posts "
                       "WHERE forum_posts.thread_id = forum_threads.id) WHERE course_id = :c"), {"c": course.id})
        s.commit()
        return thread_ids[len(thread_ids) // 2]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=5_000)
    ap.add_argument("--posts-per-thread", type=int, default=20)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", default="1,16", help="wrk connections, one run per value")
    ap.add_argument("--db-url", default="", help="default: a fresh SQLite file; a PostgreSQL database is emptied")
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-forum-"))
    db_url = args.db_url or f"sqlite:///{work / 'lms.sqlite'}"
    engine = make_engine(db_url)
    if engine.url.get_backend_name() == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    upgrade(engine)
    t = time.monotonic()
    middle = seed(session_factory(engine), args.threads, args.posts_per_thread)
    if engine.url.get_backend_name() == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    posts = args.threads * args.posts_per_thread
    print(f"bulk-loaded {posts:,} posts in {args.threads:,} threads in {time.monotonic() - t:.1f}s "
          f"({engine.url.get_backend_name()})")
    engine.dispose()

    port, hub_port = free_port(), free_port()
    model = {"kind": "user", "name": STUDENT, "admin": False, "groups": [],
             "scopes": ["access:services!service=lms", *permissions.scopes_for(instructor=False, admin=False)]}
    hub = subprocess.Popen([sys.executable, "-c", HUB_API, str(hub_port), json.dumps(model), TOKEN])
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("LMS_")},
           "LMS_DB_URL": db_url, "LMS_DATA_DIR": str(work), "LMS_DEMO": "0",
           "JUPYTERHUB_SERVICE_URL": f"http://127.0.0.1:{port}", "JUPYTERHUB_SERVICE_PREFIX": "/services/lms/",
           "JUPYTERHUB_API_TOKEN": "bench-service-token", "JUPYTERHUB_API_URL": f"http://127.0.0.1:{hub_port}/hub/api"}
    service = subprocess.Popen([sys.executable, "-m", "lms_extension.cli", "service"], env=env,
                               stdout=open(work / "service.log", "wb"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/services/lms/"
    headers = {"Authorization": f"token {TOKEN}"}
    endpoints = {
        "GET /api/v1/courses/{slug}/threads (thread list)": "api/v1/courses/big-qa/threads",
        "GET /api/v1/threads/{id} (thread, 20 posts)": f"api/v1/threads/{middle}",
        "GET /courses/{slug}/forum (thread list page, HTML)": "courses/big-qa/forum",
        "GET /forum/threads/{id} (thread page, HTML)": f"forum/threads/{middle}",
    }
    results = {}
    try:
        import requests
        wait_up(base + "api/v1/courses", 120)
        # the service warms up in a thread (recommender, lesson previews, then gc.freeze): measure after it
        deadline = time.monotonic() + 120
        while b"warm-up done" not in (work / "service.log").read_bytes() and time.monotonic() < deadline:
            time.sleep(0.2)
        for name, path in endpoints.items():
            r = requests.get(base + path, headers=headers, timeout=30)
            if r.status_code != 200:
                raise SystemExit(f"{path}: {r.status_code} {r.text[:300]} (log: {work / 'service.log'})")
            for connections in (int(c) for c in args.connections.split(",")):
                results[f"{name} c={connections}"] = wrk(base + path, args.seconds, connections, headers=headers)
    finally:
        service.terminate()
        hub.terminate()
        service.wait()
        hub.wait()
    print(f"\n{'endpoint (wrk connections)':62} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
    for name, r in results.items():
        print(f"{name:62} {r['rps']:8.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} {r['non2xx']:8d}")
    print(f"\ntarget: p99 <= 50 ms, with {posts:,} posts in the course (one service process; at c=16 a request "
          "waits for the 15 before it)")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
