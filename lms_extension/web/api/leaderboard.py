"""``/api/v1/leaderboard``: XP leaders, global or per course."""
from __future__ import annotations

from ...services import gamification
from ...services.catalog import get_course
from ..base import APIHandler, requires_user
from .spec import SECURITY, errors, response


class LeaderboardAPI(APIHandler):
    @requires_user
    def get(self):
        user = self.require_user()
        slug = self.get_query_argument("course", "")
        period = self.get_query_argument("period", "all")
        course_id = get_course(self.db, slug, viewer=user).id if slug else None
        rows = gamification.leaderboard(self.db, course_id=course_id, period=period, viewer_id=user.id)
        self.write_json({"course": slug or None, "period": period,
                         "leaders": [{"rank": r.rank, "name": r.name, "xp": r.xp, "me": r.is_me} for r in rows]})


default_handlers = [
    (r"api/v1/leaderboard", LeaderboardAPI),
]

# OpenAPI ---------------------------------------------------------------------------------

_OBJ = {"type": "object"}
OPENAPI_PATHS: dict = {
    "/leaderboard": {"get": {"summary": "XP leaderboard (global or per course; weekly or all-time); opted-out learners never appear",
                             "security": SECURITY, "parameters": [
                                 {"name": "course", "in": "query", "required": False, "schema": {"type": "string"}},
                                 {"name": "period", "in": "query", "required": False,
                                  "schema": {"type": "string", "enum": ["week", "all"]}}],
                             "responses": {"200": response("Leaders", _OBJ), **errors(400, 401, 404)}}},
}
