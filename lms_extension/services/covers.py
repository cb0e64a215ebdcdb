"""Course cover images: uploaded by the course's instructor, or generated as an SVG.

An upload is accepted by its content (PNG, JPEG or WebP magic bytes, then decoded by Pillow),
never by its file name; it is cropped to 16:9 and re-encoded as WebP in a few widths, so what
is served is always an image this module wrote. The storage keys carry a version that changes
with each upload, so a cover's URL can be cached for a year. The same checks make the
instructor photos of ``users.set_photo`` (square).
"""
from __future__ import annotations

import colorsys
import hashlib
import io
import secrets
import warnings
from dataclasses import dataclass
from xml.sax.saxutils import escape

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import permissions
from ..errors import Forbidden, InvalidInput, PayloadTooLarge
from ..models import Course, User
from ..models.base import utcnow
from ..models.course import CourseCover

# stays under the service's request-body limit (LMS_MAX_BODY_BYTES, 1 MiB by default)
MAX_IMAGE_BYTES = 1_000_000
MAX_PIXELS = 40_000_000  # a 1 MB file may decode to gigabytes (a "decompression bomb")
COVER_WIDTHS = (320, 640, 960)
COVER_RATIO = (16, 9)
PHOTO_WIDTHS = (96, 256)
MAGIC = {"png": (b"\x89PNG\r\n\x1a\n",), "jpeg": (b"\xff\xd8\xff",)}


@dataclass(frozen=True)
class Rendition:
    width: int
    height: int
    data: bytes


def sniff(data: bytes) -> str:
    """The image type by its first bytes: ``png``, ``jpeg`` or ``webp``; anything else is refused."""
    for kind, prefixes in MAGIC.items():
        if any(data.startswith(p) for p in prefixes):
            return kind
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    raise InvalidInput("the file is not a PNG, JPEG or WebP image")


def renditions(data: bytes, widths: tuple[int, ...], ratio: tuple[int, int]) -> list[Rendition]:
    """``data`` checked, cropped to ``ratio`` around its centre and encoded as WebP in ``widths``
    (never wider than the original, at least the smallest)."""
    if not isinstance(data, (bytes, bytearray)) or not data:
        raise InvalidInput("choose an image file to upload")
    if len(data) > MAX_IMAGE_BYTES:
        raise PayloadTooLarge(f"the image is {len(data) // 1000} kB; at most {MAX_IMAGE_BYTES // 1000} kB")
    kind = sniff(bytes(data[:16]))
    from PIL import Image, ImageOps

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=[kind.upper()])
            if img.width * img.height > MAX_PIXELS:
                raise InvalidInput(f"the image is {img.width}×{img.height} pixels; at most {MAX_PIXELS // 1_000_000} megapixels")
            img.load()
    except InvalidInput:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidInput(f"the image has too many pixels; at most {MAX_PIXELS // 1_000_000} megapixels") from None
    except (OSError, SyntaxError, ValueError, EOFError):
        raise InvalidInput("the image could not be read: it is damaged or not really a PNG, JPEG or WebP") from None
    img = ImageOps.exif_transpose(img)
    img = img.convert("RGBA" if "A" in img.getbands() else "RGB")
    rw, rh = ratio
    # the largest centred crop of the wanted shape
    cw, ch = (img.width, img.width * rh // rw) if img.width * rh <= img.height * rw else (img.height * rw // rh, img.height)
    if cw < 16 or ch < 9:
        raise InvalidInput("the image is too small")
    left, top = (img.width - cw) // 2, (img.height - ch) // 2
    img = img.crop((left, top, left + cw, top + ch))
    out = []
    chosen = [w for w in widths if w <= cw] or [min(widths)]
    for width in chosen:
        height = max(1, round(width * rh / rw))
        resized = img.resize((width, height), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        resized.save(buf, "WEBP", quality=82, method=4)
        out.append(Rendition(width, height, buf.getvalue()))
    return out


def new_version() -> str:
    return secrets.token_hex(6)


def cover_key(course_id: int, version: str, width: int) -> str:
    return f"covers/{course_id}/{version}-{width}.webp"


def upload_cover(session: Session, store, user: User, slug: str, data: bytes) -> CourseCover:
    """The instructor's (or an admin's) new cover for course ``slug``."""
    course = session.scalars(select(Course).where(Course.slug == slug)).one_or_none()
    if course is None or not permissions.can_teach(user, course):
        raise Forbidden("only the course's instructor can change its cover")
    images = renditions(data, COVER_WIDTHS, COVER_RATIO)
    version = new_version()
    for r in images:
        store.put(cover_key(course.id, version, r.width), r.data, "image/webp")
    row = session.get(CourseCover, course.id)
    old = (row.version, row.widths) if row is not None else None
    if row is None:
        row = CourseCover(course_id=course.id)
        session.add(row)
    row.version, row.widths = version, ",".join(str(r.width) for r in images)
    row.width, row.height, row.updated_at = images[-1].width, images[-1].height, utcnow()
    session.flush()
    if old is not None:
        for w in old[1].split(","):
            store.delete(cover_key(course.id, old[0], int(w)))
    return row


def covers_of(session: Session, course_ids: list[int]) -> dict[int, CourseCover]:
    if not course_ids:
        return {}
    return {c.course_id: c for c in session.scalars(select(CourseCover).where(CourseCover.course_id.in_(course_ids)))}


def cover_file(session: Session, store, course_id: int, version: str, width: int) -> bytes:
    """A stored rendition, only under the course's current version (an old URL is a 404)."""
    from ..errors import NotFound

    row = session.get(CourseCover, course_id)
    if row is None or row.version != version or str(width) not in row.widths.split(","):
        raise NotFound("no such cover")
    return store.get(cover_key(course_id, version, width))


def _palette(seed: str) -> tuple[str, str]:
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    hue = digest[0] / 255
    a = colorsys.hls_to_rgb(hue, 0.38, 0.55)
    b = colorsys.hls_to_rgb((hue + 0.12 + digest[1] / 2550) % 1.0, 0.28, 0.6)
    return tuple("#" + "".join(f"{round(c * 255):02x}" for c in rgb) for rgb in (a, b))  # type: ignore[return-value]


def _wrap(text: str, width: int, lines: int) -> list[str]:
    words, out, line = text.split(), [], ""
    for word in words:
        if len(line) + len(word) + 1 > width and line:
            out.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    if line:
        out.append(line)
    if len(out) > lines:
        out = out[:lines]
        out[-1] = out[-1][: width - 1].rstrip() + "…"
    return out


def svg_cover(title: str, category: str, seed: str) -> str:
    """A 16:9 cover drawn from the course's title and category; the same course always gets the
    same colours. Text is XML-escaped: a title cannot add markup."""
    top, bottom = _palette(seed)
    title_lines = _wrap(title, 22, 3)
    y0 = 200 - 26 * (len(title_lines) - 1)
    texts = "".join(f'<text x="40" y="{y0 + i * 52}" class="t">{escape(line)}</text>' for i, line in enumerate(title_lines))
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="640" height="360" viewBox="0 0 640 360" role="img" '
        f'aria-label="{escape(title, {chr(34): "&quot;"})}">'
        f'<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="{top}"/>'
        f'<stop offset="1" stop-color="{bottom}"/></linearGradient></defs>'
        '<style>.t{font:600 44px system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;fill:#fff}'
        '.c{font:500 22px system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;fill:#ffffffcc;letter-spacing:2px}</style>'
        '<rect width="640" height="360" fill="url(#g)"/>'
        '<circle cx="560" cy="70" r="120" fill="#ffffff14"/><circle cx="600" cy="320" r="80" fill="#ffffff10"/>'
        f'<text x="40" y="64" class="c">{escape(category.upper()[:40])}</text>{texts}</svg>'
    )
