"""``/api/v1`` achievements: my badges, XP and streak, the learning profile behind them, and Open Badges credentials."""
from __future__ import annotations

from ...errors import InvalidInput
from ...services import gamification
from ..base import APIHandler, public_base, requires_user
from .spec import SECURITY, errors, json_body, path_param, ref, response


class MyAchievementsAPI(APIHandler):
    @requires_user
    def get(self):
        user = self.require_user()
        base = public_base(self)
        out = []
        for a in gamification.achievements_of(self.db, user.id):
            view = gamification.achievement_view(a)
            view["credential_url"] = f"{base}api/v1/achievements/{a.uid}/credential"
            out.append(view)
        prof = gamification.profile(self.db, user.id)
        self.db.commit()
        self.write_json({"achievements": out, "xp": gamification.total_xp(self.db, user.id),
                         "streak": gamification.streak(self.db, user.id), "timezone": prof.timezone})


class CredentialAPI(APIHandler):
    """Public Open Badges 3.0 credential of one achievement (its id is unguessable)."""

    def get(self, uid: str):
        achievement = gamification.get_achievement(self.db, uid)
        self.set_header("Content-Disposition", f'attachment; filename="badge-{achievement.key}.json"')
        self.set_header("Content-Type", "application/ld+json")
        self.finish(__import__("json").dumps(gamification.open_badge(self.db, achievement, base_url=public_base(self)),
                                             indent=1))


class LearningProfileAPI(APIHandler):
    @requires_user
    def get(self):
        user = self.require_user()
        prof = gamification.profile(self.db, user.id)
        self.db.commit()
        self.write_json({"timezone": prof.timezone, "leaderboard_opt_out": prof.leaderboard_opt_out})

    @requires_user
    def patch(self):
        user = self.require_user()
        body = self.json_body()
        if not isinstance(body, dict) or not set(body) <= {"timezone", "leaderboard_opt_out"}:
            raise InvalidInput('send {"timezone": "Europe/Berlin", "leaderboard_opt_out": false}')
        prof = gamification.update_profile(self.db, user, timezone_name=body.get("timezone"),
                                           leaderboard_opt_out=body.get("leaderboard_opt_out"))
        self.db.commit()
        self.write_json({"timezone": prof.timezone, "leaderboard_opt_out": prof.leaderboard_opt_out})


default_handlers = [
    (r"api/v1/me/achievements", MyAchievementsAPI),
    (r"api/v1/me/learning-profile", LearningProfileAPI),
    (r"api/v1/achievements/([^/]+)/credential", CredentialAPI),
]

# OpenAPI ---------------------------------------------------------------------------------

_OBJ = {"type": "object"}
OPENAPI_PATHS: dict = {
    "/me/achievements": {"get": {"summary": "My badges, XP and streak", "security": SECURITY, "responses": {
        "200": response("Achievements", _OBJ), **errors(401)}}},
    "/me/learning-profile": {
        "get": {"summary": "Time zone (for streaks) and leaderboard privacy", "security": SECURITY,
                "responses": {"200": response("Profile", ref("LearningProfile")), **errors(401)}},
        "patch": {"summary": "Change time zone or leaderboard opt-out", "security": SECURITY,
                  "requestBody": json_body(ref("LearningProfile")),
                  "responses": {"200": response("Profile", ref("LearningProfile")), **errors(400, 401)}}},
    "/achievements/{uid}/credential": {"get": {
        "summary": "Open Badges 3.0 OpenBadgeCredential of an achievement (public)", "parameters": [path_param("uid")],
        "responses": {"200": response("JSON-LD credential", _OBJ, "application/ld+json"), **errors(404)}}},
}
OPENAPI_SCHEMAS: dict = {
    "LearningProfile": {"type": "object", "properties": {
        "timezone": {"type": "string", "description": "IANA name, e.g. Europe/Berlin"},
        "leaderboard_opt_out": {"type": "boolean"}}},
}
