"""My achievements page: badges, XP, streak."""
from __future__ import annotations

from tornado import web

from ...errors import InvalidInput
from ...services import certificates, gamification, lesson_extras
from ..base import BaseHandler, public_base, verify_url


class AchievementsPage(BaseHandler):
    @web.authenticated
    def get(self):
        user = self.require_user()
        prof = gamification.profile(self.db, user.id)
        self.db.commit()
        base = public_base(self)
        badges = [dict(gamification.achievement_view(a), credential_url=f"{base}api/v1/achievements/{a.uid}/credential")
                  for a in gamification.achievements_of(self.db, user.id)]
        certs = [certificates.view(c, verify_url(self, c.uid)) for c in certificates.certificates_of(self.db, user)]
        self.render_page("learning/achievements.html", badges=badges, certs=certs, profile=prof,
                         xp=gamification.total_xp(self.db, user.id), streak=gamification.streak(self.db, user.id),
                         bookmarks=lesson_extras.bookmarks_of(self.db, user), saved=self.get_query_argument("saved", ""))

    @web.authenticated
    def post(self):
        user = self.require_user()
        try:
            gamification.update_profile(self.db, user, timezone_name=self.get_body_argument("timezone", None),
                                        leaderboard_opt_out=self.get_body_argument("opt_out", "") == "on")
        except InvalidInput:
            self.db.rollback()
            self.redirect(f"{self.config.service_prefix}achievements?saved=bad-timezone")
            return
        self.db.commit()
        self.redirect(f"{self.config.service_prefix}achievements?saved=1")


default_handlers = [
    (r"achievements", AchievementsPage),
]
