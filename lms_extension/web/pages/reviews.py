"""The course page's review forms: writing or editing a review, helpful votes, reports, replies."""
from __future__ import annotations

from tornado import web

from ...errors import LMSError, NotFound
from ...services import catalog, reviews
from .catalog import CourseForm


class ReviewForm(CourseForm):
    @web.authenticated
    def post(self, slug: str):
        user = self.require_user()
        rating, text = self.get_body_argument("rating", ""), self.get_body_argument("text", "")
        catalog.get_course(self.db, slug, viewer=user)  # an unknown course is a 404, not a note
        try:
            if self.get_body_argument("edit", ""):
                reviews.update_own(self.db, user, slug, rating, text)
            else:
                reviews.create(self.db, user, slug, rating, text, min_progress=self.config.review_min_progress)
        except LMSError as exc:  # shown on the course page, next to the form
            self.db.rollback()
            self.back(slug, exc.message)
            return
        self.db.commit()
        self.back(slug, "Thanks for your review.")


class ReviewAction(CourseForm):
    """Helpful votes, reports and instructor replies from the course page's forms."""

    @web.authenticated
    def post(self, review_id: str, action: str):
        user = self.require_user()
        try:
            rid = int(review_id)
        except ValueError:
            raise NotFound(f"no review {review_id[:20]!r}") from None
        slug = self.get_body_argument("course", "")
        try:
            if action == "helpful":
                reviews.vote_helpful(self.db, user, rid, self.get_body_argument("undo", "") == "")
                note = ""
            elif action == "report":
                reviews.report(self.db, user, rid, self.get_body_argument("reason", ""))
                note = "Thanks: a moderator will look at it."
            else:
                reviews.reply(self.db, user, rid, self.get_body_argument("text", ""))
                note = "Reply published."
        except LMSError as exc:
            self.db.rollback()
            note = exc.message
        else:
            self.db.commit()
        if slug:
            catalog.get_course(self.db, slug, viewer=user)  # only redirect to a real course
            self.back(slug, note)
        else:
            self.redirect(self.config.service_prefix)


default_handlers = [
    (r"courses/([^/]+)/reviews", ReviewForm),
    (r"reviews/([0-9]{1,9})/(helpful|report|reply)", ReviewAction),
]
