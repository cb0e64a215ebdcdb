"""Learning pages: certificates, verification, achievements, leaderboards, and the
lesson page's quizzes, notes, bookmarks, resources and video."""
from __future__ import annotations

import json

from tornado import web

from ...errors import InvalidInput
from ...services import certificates, gamification, lesson_extras, progress, quizzes
from ...services.catalog import get_course
from ..api.learning import public_base, verify_url
from ..base import BaseHandler


def lesson_learning_context(session, user, course, lesson, enrollment) -> dict:
    """What the lesson page shows beyond submissions (called by ``pages.lessons``)."""
    video = lesson_extras.video_of(session, lesson)
    return {
        "quizzes": quizzes.quizzes_of_lesson(session, user, lesson),
        "lesson_progress": progress.lesson_status(session, user.id, lesson, course) if enrollment else None,
        "note": lesson_extras.get_note(session, user, course.slug, lesson.key)["body"],
        "bookmarked": lesson_extras.is_bookmarked(session, user, lesson),
        "resources": [lesson_extras.resource_view(r) for r in lesson_extras.resources_of(session, lesson)],
        "video": {"content_type": video.content_type, "chapters": json.loads(video.chapters)} if video else None,
        "lesson_base": f"courses/{course.slug}/lessons/{lesson.key}",
    }


class CertificatePage(BaseHandler):
    """Public verification page: valid or revoked, with Open Graph tags for sharing."""

    def get(self, uid: str):
        cert = certificates.get(self.db, uid)
        url = verify_url(self, cert.uid)
        self.render_page("learning/certificate.html", cert=cert, info=certificates.view(cert, url), verify_url=url,
                         owner=self._page_user() is not None and self._page_user().id == cert.user_id)


class CertificatePDF(BaseHandler):
    def get(self, uid: str):
        cert = certificates.get(self.db, uid)
        data = certificates.render_pdf(cert, verify_url(self, cert.uid))
        self.set_header("Content-Type", "application/pdf")
        self.set_header("Content-Disposition", f'inline; filename="certificate-{cert.uid}.pdf"')
        self.finish(data)


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


class _LessonForm(BaseHandler):
    def back(self, slug: str, lesson_key: str, anchor: str = "") -> None:
        self.redirect(f"{self.config.service_prefix}courses/{slug}/lessons/{lesson_key}#{anchor}")


class QuizAnswerPage(_LessonForm):
    @web.authenticated
    def post(self, slug: str, lesson_key: str, quiz_key: str):
        user = self.require_user()
        answer = self.get_body_arguments("answer")
        _, lesson, quiz = quizzes.find(self.db, user, slug, quiz_key)
        if lesson.key != lesson_key:
            raise InvalidInput("this quiz belongs to another lesson")
        response = [int(a) for a in answer if a.isdigit()] if quiz.kind == "choice" else (answer[0] if answer else "")
        quizzes.answer(self.db, user, slug, quiz_key, response)  # bad answers: an error page with the reason
        self.db.commit()
        self.back(slug, lesson_key, f"quiz-{quiz_key}")


class NotePage(_LessonForm):
    @web.authenticated
    def post(self, slug: str, lesson_key: str):
        user = self.require_user()
        lesson_extras.save_note(self.db, user, slug, lesson_key, self.get_body_argument("body", ""))
        self.db.commit()
        self.back(slug, lesson_key, "notes")


class BookmarkPage(_LessonForm):
    @web.authenticated
    def post(self, slug: str, lesson_key: str):
        user = self.require_user()
        lesson_extras.set_bookmark(self.db, user, slug, lesson_key, self.get_body_argument("on", "1") == "1",
                                   self.get_body_argument("label", ""))
        self.db.commit()
        self.back(slug, lesson_key, "notes")


class VideoFile(BaseHandler):
    @web.authenticated
    def get(self, slug: str, lesson_key: str):
        video, data = lesson_extras.lesson_video(self.db, self.settings["storage"], self.require_user(), slug, lesson_key)
        self.set_header("Content-Type", video.content_type)
        self.set_header("Accept-Ranges", "bytes")
        start, end = 0, len(data) - 1
        header = self.request.headers.get("Range", "")
        if header.startswith("bytes=") and "," not in header:
            first, _, last = header[6:].partition("-")
            try:
                start = int(first) if first else max(0, len(data) - int(last))
                end = min(int(last), len(data) - 1) if first and last else end
            except ValueError:
                start, end = 0, len(data) - 1
            if start > end or start >= len(data):
                self.set_status(416)
                self.set_header("Content-Range", f"bytes */{len(data)}")
                self.finish()
                return
            self.set_status(206)
            self.set_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        self.finish(data[start:end + 1])


class ChaptersTrack(BaseHandler):
    @web.authenticated
    def get(self, slug: str, lesson_key: str):
        vtt = lesson_extras.lesson_chapters(self.db, self.require_user(), slug, lesson_key)
        self.set_header("Content-Type", "text/vtt; charset=utf-8")
        self.finish(vtt)


class ResourceFile(BaseHandler):
    @web.authenticated
    def get(self, slug: str, lesson_key: str, name: str):
        row, data = lesson_extras.download_resource(self.db, self.settings["storage"], self.require_user(),
                                                    slug, lesson_key, name)
        self.set_header("Content-Type", row.content_type)
        self.set_header("Content-Disposition", f'attachment; filename="{row.name}"')
        self.finish(data)


default_handlers = [
    (r"certificates/([^/.]+)\.pdf", CertificatePDF),
    (r"certificates/([^/.]+)", CertificatePage),
    (r"achievements", AchievementsPage),
    (r"leaderboard", LeaderboardPage),
    (r"courses/([^/]+)/lessons/([^/]+)/quizzes/([^/]+)", QuizAnswerPage),
    (r"courses/([^/]+)/lessons/([^/]+)/note", NotePage),
    (r"courses/([^/]+)/lessons/([^/]+)/bookmark", BookmarkPage),
    (r"courses/([^/]+)/lessons/([^/]+)/video", VideoFile),
    (r"courses/([^/]+)/lessons/([^/]+)/chapters\.vtt", ChaptersTrack),
    (r"courses/([^/]+)/lessons/([^/]+)/resources/([^/]+)", ResourceFile),
]

# OpenAPI paths (keys relative to /api/v1) and component schemas this module adds.
OPENAPI_PATHS: dict = {}
OPENAPI_SCHEMAS: dict = {}
