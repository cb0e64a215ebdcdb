"""A lesson's video (with byte ranges) and its chapter track."""
from __future__ import annotations

from tornado import web

from ...services import lesson_extras
from ..base import BaseHandler


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


default_handlers = [
    (r"courses/([^/]+)/lessons/([^/]+)/video", VideoFile),
    (r"courses/([^/]+)/lessons/([^/]+)/chapters\.vtt", ChaptersTrack),
]
