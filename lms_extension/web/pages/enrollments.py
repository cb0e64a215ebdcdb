"""Enrolling from the course page, and my learning: the courses I am enrolled in."""
from __future__ import annotations

from urllib.parse import urlencode

from tornado import web

from ...errors import PaymentRequired
from ...services import challenges, enrollments, progress
from ..base import BaseHandler
from .catalog import lesson_open_url


class EnrollPage(BaseHandler):
    @web.authenticated
    def post(self, slug: str):
        user = self.require_user()
        try:
            enrollments.enroll(self.db, user, slug)
        except PaymentRequired:
            self.db.rollback()
            self.redirect(f"{self.config.service_prefix}checkout?" + urlencode({"course": slug}))
            return
        self.db.commit()
        self.redirect(f"{self.config.service_prefix}courses/{slug}?enrolled=1")


class MyLearningPage(BaseHandler):
    @web.authenticated
    def get(self):
        user = self.require_user()
        rows = enrollments.enrollments_for(self.db, user)
        started = progress.started_counts(self.db, user, [e.course_id for e in rows])
        solved = challenges.solved_per_course(self.db, user, [e.course_id for e in rows])
        learning = {p["course"]: p for p in progress.my_progress(self.db, user)}  # completion, certificate
        items = []
        for e in rows:
            lp = learning[e.course.slug]
            done = {ls["lesson"] for ls in lp["lessons"] if ls["completed"]}
            target = None if lp["completed"] else enrollments.continue_lesson(e.course, e, done)
            items.append({
                "enrollment": e, "course": e.course, "learning": lp,
                "started": started.get(e.course_id, 0),
                "challenges": solved.get(e.course_id),
                # by title, never by id; "Start" before any lesson was opened
                "action": "Continue" if started.get(e.course_id) else "Start",
                "target": target,
                "target_url": lesson_open_url(self.config.hub_prefix, e.course.slug, target.key) if target else None,
            })
        self.render_page("my_learning.html", items=items)


default_handlers = [
    (r"courses/([^/]+)/enroll", EnrollPage),
    (r"my-learning", MyLearningPage),
]
