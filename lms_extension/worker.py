"""``lms worker``: claim notebook submissions from the database and grade them in the sandbox,
send the email outbox over SMTP (``services/mail.py``) and the push outbox to browsers
(``services/push.py``), and run the periodic jobs (``jobs.py``).

Stateless: run as many as you like, on any machine that reaches the database. A lease
is renewed while a job grades; a worker killed mid-job loses nothing (another worker
takes the job once the lease expires).
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import uuid
from typing import Awaitable, Callable

from sqlalchemy.orm import Session, sessionmaker

from .config import LMSConfig
from .jobs import configured_jobs, run_forever
from .services import announcements
from .services import grading_queue as queue
from .services import mail
from .services import push

log = logging.getLogger("lms.worker")
Grader = Callable[[dict[str, str], dict[str, str]], Awaitable[dict]]


CELL_FIELDS = ("grade_id", "cell_type", "points", "max_points", "status", "passed",
               "needs_manual_grade", "error_name", "error_message")


def student_feedback(grade: dict) -> dict:
    """What the student may see of a grade: scores and per-cell results, never the
    autograded notebook (it holds the restored hidden tests)."""
    return {
        "score": grade["score"], "max_score": grade["max_score"],
        "needs_manual_grade": grade["needs_manual_grade"], "error": grade.get("error"),
        "notebooks": [{
            "name": nb["name"], "score": nb["score"], "max_score": nb["max_score"], "error": nb.get("error"),
            "cells": [{k: cell.get(k) for k in CELL_FIELDS} for cell in nb["cells"]],
        } for nb in grade["notebooks"]],
    }


def autograded_notebooks(grade: dict) -> dict[str, str] | None:
    """The autograded notebooks (hidden tests restored, outputs): stored for instructors only."""
    books = {nb["name"]: nb["autograded_notebook"] for nb in grade.get("notebooks", [])
             if nb.get("autograded_notebook")}
    return books or None


async def default_grader(source_notebooks: dict[str, str], submitted: dict[str, str]) -> dict:
    """Grade with nbgrader semantics in the sandbox; the whole grade (``SubmissionGrade.to_dict``)."""
    from graders.notebook import grade_submission

    grade = await grade_submission(source_notebooks, submitted)
    return grade.to_dict()


class Worker:
    def __init__(self, factory: sessionmaker[Session], *, grader: Grader = default_grader,
                 name: str | None = None, lease_seconds: float = LMSConfig.worker_lease_seconds.default_value,
                 poll_seconds: float = LMSConfig.worker_poll_seconds.default_value):
        self.factory, self.grader = factory, grader
        self.name = name or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.lease_seconds, self.poll_seconds = lease_seconds, poll_seconds
        self.stopping = asyncio.Event()

    async def run(self, *, once: bool = False) -> int:
        """Grade until stopped (or, with ``once``, until the queue is empty). Returns jobs done."""
        done = 0
        while not self.stopping.is_set():
            if await self.step():
                done += 1
            elif once:
                break
            else:
                try:
                    await asyncio.wait_for(self.stopping.wait(), self.poll_seconds)
                except asyncio.TimeoutError:
                    pass
        return done

    async def step(self) -> bool:
        """Claim and grade one job; False when the queue is empty."""
        with self.factory() as session:
            submission = queue.claim(session, self.name, self.lease_seconds)
            if submission is None:
                return False
            job = queue.job_for(submission)
        log.info("grading submission %s", job.id)
        keep_alive = asyncio.ensure_future(self._renew_lease(job.id))
        try:
            result = await self.grader(job.source_notebooks, job.submitted_notebooks)
        except Exception as exc:  # the grader's own failure: record it for the student and staff
            log.exception("grading submission %s failed", job.id)
            with self.factory() as session:
                queue.fail(session, job.id, self.name, f"grading failed: {type(exc).__name__}: {exc}")
            return True
        finally:
            keep_alive.cancel()
        with self.factory() as session:
            stored = queue.complete(session, job.id, self.name, score=result["score"],
                                    max_score=result["max_score"], feedback=student_feedback(result),
                                    autograded=autograded_notebooks(result))
        if stored:
            log.info("stored the grade of submission %s", job.id)
        else:
            log.warning("lease on submission %s was lost; its result was not stored", job.id)
        return True

    async def _renew_lease(self, submission_id: int) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            with self.factory() as session:
                if not queue.renew(session, submission_id, self.name, self.lease_seconds):
                    return


def main(config, *, once: bool = False, concurrency: int = 1) -> int:
    from .db import check_revision, make_engine, session_factory

    engine = make_engine(config.db_url)
    check_revision(engine)
    factory = session_factory(engine)
    from .services import notifications
    notifications.configure_email_links(config.public_url + config.service_prefix, config.cookie_secret)
    push.application_server_key(config)  # a VAPID key pair that does not match would fail every push

    async def serve() -> int:
        workers = [Worker(factory, lease_seconds=config.worker_lease_seconds,
                          poll_seconds=config.worker_poll_seconds) for _ in range(concurrency)]
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, lambda: [w.stopping.set() for w in workers])
        log.info("worker(s) %s polling %s", ", ".join(w.name for w in workers),
                 engine.url.render_as_string(hide_password=True))
        jobs = [w.run(once=once) for w in workers]
        if not once:
            jobs.append(run_forever(factory, configured_jobs(config), workers[0].name, workers[0].stopping))
            jobs.append(mail.deliver_forever(factory, config, workers[0].name, workers[0].stopping))
            jobs.append(announcements.fan_out_forever(factory, config, workers[0].name, workers[0].stopping))
            jobs.append(push.deliver_forever(factory, config, workers[0].name, workers[0].stopping))
        return sum(await asyncio.gather(*jobs))

    graded = asyncio.run(serve())
    log.info("graded %d submission(s)", graded)
    return 0
