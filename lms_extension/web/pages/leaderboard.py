"""The leaderboard page."""
from __future__ import annotations

from tornado import web

from ...services import gamification
from ...services.catalog import get_course
from ..base import BaseHandler


class LeaderboardPage(BaseHandler):
    @web.authenticated
    def get(self):
        user = self.require_user()
        slug = self.get_query_argument("course", "")
        period = self.get_query_argument("period", "week")
        course = get_course(self.db, slug, viewer=user) if slug else None
        rows = gamification.leaderboard(self.db, course_id=course.id if course else None, period=period,
                                        viewer_id=user.id)
        self.render_page("learning/leaderboard.html", rows=rows, course=course, period=period,
                         opted_out=gamification.profile(self.db, user.id).leaderboard_opt_out)


default_handlers = [
    (r"leaderboard", LeaderboardPage),
]
