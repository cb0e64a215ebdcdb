"""Periodic jobs, run by ``lms worker`` (never by the service, whose replicas would each run them).

Each job has a name, an interval from the configuration (0 or less: off) and a function
taking a session factory. Every worker runs the same loop; a job's row in ``job_runs`` is
claimed with a conditional UPDATE before it runs, so a job runs at most once per interval
however many workers there are, and a restarted worker does not run it again early.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from .db import session_scope
from .models.base import utcnow
from .models.jobs import JobRun

log = logging.getLogger("lms.jobs")

# A run that has not finished this long after it started is taken to have died with its
# worker; the job may be claimed again although its row says it is running.
STALE_AFTER_SECONDS = 3600.0


@dataclass(frozen=True)
class Job:
    name: str
    interval: float  # seconds between two starts; 0 or less: never
    run: Callable[[sessionmaker[Session]], object]


def trending_refresh(config) -> Callable[[sessionmaker[Session]], object]:
    from .services import trending

    def run(factory):
        with session_scope(factory) as session:
            trending.refresh(session, half_life_days=config.trending_half_life_days)
    return run


def payments_reconciliation(config) -> Callable[[sessionmaker[Session]], object]:
    from .services.payments.reconcile import run_once

    def run(factory):
        report = run_once(factory, config)
        if report.changed or report.errors:
            log.warning("payments reconciled: changed %s, errors %s", report.changed, report.errors)
        return report
    return run


def checkout_expiry(config) -> Callable[[sessionmaker[Session]], object]:
    """Abandoned checkouts give their coupon reservations back (lost ``checkout.session.expired``)."""
    from .services.payments import fulfillment
    from .services.payments.policy import CommercePolicy
    from .services.payments.stripe_client import from_config

    def run(factory):
        stripe, policy = from_config(config), CommercePolicy.from_config(config)
        with session_scope(factory) as session:
            closed = fulfillment.sweep_abandoned(session, stripe, policy)
        if closed:
            log.info("closed abandoned checkouts %s", closed)
        return closed
    return run


def judge0_expiry(config) -> Callable[[sessionmaker[Session]], object]:
    """Judge0 submissions past their time to live go, also when no new submission arrives."""
    from graders.judge0.config import Judge0Config

    from .services import judge0_submissions

    def run(factory):
        horizon = utcnow() - dt.timedelta(seconds=Judge0Config.submission_ttl)
        with session_scope(factory) as session:
            return judge0_submissions.expire(session, horizon)
    return run


def wishlist_delivery(config) -> Callable[[sessionmaker[Session]], object]:
    """Wishlisted courses that got cheaper or a coupon: the stored events become notifications."""
    from .services import wishlist

    def run(factory):
        with session_scope(factory) as session:
            return wishlist.deliver_events(session)
    return run


def deadline_reminders(config) -> Callable[[sessionmaker[Session]], object]:
    """Students whose own deadline is less than 24 hours away, work not handed in: told once per deadline."""
    from .services import deadline_reminders as reminders

    def run(factory):
        with session_scope(factory) as session:
            return reminders.send_reminders(session)
    return run


def digests(config) -> Callable[[sessionmaker[Session]], object]:
    """Daily and weekly digest emails that are due, each once per user and period (one transaction each)."""
    from .services import digests as digest_emails

    def run(factory):
        with session_scope(factory) as session:
            user_ids = digest_emails.subscribers(session)
        outcomes: dict[str, int] = {}
        links = digest_emails.links_from(config)
        for user_id in user_ids:
            try:
                with session_scope(factory) as session:
                    outcome = digest_emails.send(session, user_id, hour=config.digest_hour_utc,
                                                 target_hours=config.forum_answer_target_hours, links=links)
            except Exception:  # one person's digest failing must not hold back everyone else's
                log.exception("the digest of user %s failed", user_id)
                outcome = "error"
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        return outcomes
    return run


def analytics_refresh(config) -> Callable[[sessionmaker[Session]], object]:
    """Course analytics and growth figures, computed here so that counting stays off the student's path."""
    from .services import analytics

    def run(factory):
        with session_scope(factory) as session:
            return analytics.refresh(session)
    return run


def configured_jobs(config) -> list[Job]:
    """The jobs ``config`` turns on. Payment jobs need working Stripe settings."""
    from .services.payments.stripe_client import readiness

    jobs = [Job("trending_refresh", config.trending_refresh_seconds, trending_refresh(config)),
            Job("judge0_expiry", config.judge0_expiry_seconds, judge0_expiry(config)),
            Job("analytics_refresh", config.analytics_refresh_seconds, analytics_refresh(config)),
            Job("wishlist_delivery", config.wishlist_delivery_seconds, wishlist_delivery(config)),
            Job("deadline_reminders", config.deadline_reminder_seconds, deadline_reminders(config)),
            Job("digests", config.digest_seconds, digests(config))]
    if readiness(config) is None:
        jobs += [Job("payments_reconciliation", config.reconcile_interval_seconds, payments_reconciliation(config)),
                 Job("checkout_expiry", config.checkout_expiry_seconds, checkout_expiry(config))]
    return [job for job in jobs if job.interval > 0]


def claim(session: Session, name: str, interval: float, worker: str, *, now: dt.datetime | None = None) -> bool:
    """Take the job's turn for ``worker`` when its last run started ``interval`` seconds ago
    or more and has finished (or went stale); True when this worker runs it now."""
    now = now or utcnow()
    if session.get(JobRun, name) is None:
        try:
            with session.begin_nested():
                session.add(JobRun(name=name, runs=0))
        except IntegrityError:  # another worker made the row first
            pass
    due = now - dt.timedelta(seconds=interval)
    stale = now - dt.timedelta(seconds=max(STALE_AFTER_SECONDS, interval))
    result = session.execute(
        update(JobRun)
        .where(JobRun.name == name,
               or_(JobRun.started_at.is_(None),
                   (JobRun.started_at <= due) & (JobRun.finished_at >= JobRun.started_at),
                   JobRun.started_at <= stale))
        .values(started_at=now, finished_at=None, worker=worker, runs=JobRun.runs + 1)
        .execution_options(synchronize_session=False))
    return result.rowcount == 1


def finish(session: Session, name: str, worker: str, error: str | None = None, *,
           now: dt.datetime | None = None) -> None:
    session.execute(update(JobRun).where(JobRun.name == name, JobRun.worker == worker)
                    .values(finished_at=now or utcnow(), last_error=error)
                    .execution_options(synchronize_session=False))


def run_due(factory: sessionmaker[Session], jobs: list[Job], worker: str) -> list[str]:
    """Run, one after the other, the jobs whose turn this worker claims; their names."""
    ran = []
    for job in jobs:
        with session_scope(factory) as session:
            if not claim(session, job.name, job.interval, worker):
                continue
        log.info("running job %s", job.name)
        error = None
        try:
            job.run(factory)
        except Exception as exc:  # the job keeps its schedule; the next turn tries again
            log.exception("job %s failed", job.name)
            error = f"{type(exc).__name__}: {exc}"
        with session_scope(factory) as session:
            finish(session, job.name, worker, error)
        ran.append(job.name)
    return ran


async def run_forever(factory: sessionmaker[Session], jobs: list[Job], worker: str,
                      stopping: asyncio.Event) -> int:
    """Look for due jobs until ``stopping`` is set; how many runs this worker did."""
    if not jobs:
        return 0
    # often enough that a job starts soon after its turn, rarely enough to cost nothing
    tick = min(30.0, max(0.2, min(job.interval for job in jobs) / 4))
    done = 0
    while not stopping.is_set():
        try:
            done += len(await asyncio.to_thread(run_due, factory, jobs, worker))
        except Exception:  # the database away for a moment: try again next tick
            log.exception("periodic jobs could not run")
        try:
            await asyncio.wait_for(stopping.wait(), tick)
        except asyncio.TimeoutError:
            pass
    return done
