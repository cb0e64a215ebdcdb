"""Course Q&A: threads, posts, votes (the forum of a course, anchored to lessons and notebook cells).

The one writer of ``forum_threads``, ``forum_posts``, ``forum_votes``, ``forum_reads``,
``forum_terms``, ``forum_thread_levels``, ``forum_course_levels``, ``forum_reports`` and
``forum_suspensions``. Only a course's members (enrolled students, its instructor, admins) read
or post; a private thread shows to its author and the staff only; an anonymous post shows its
author to nobody but themselves until a staff member reveals it, which the audit log records.

Moderation: members report posts into the course's queue; the staff hide posts (classmates see a
stub, the staff the post greyed with the reason), suspend a member from posting for a period,
and mark a thread as a duplicate of another. Each is written to the audit log.

Notification levels follow Discourse, per thread and per course (a thread's own level wins):
watching tells of every post, tracking shows unread counts in the lists, normal tells only of
replies to oneself and mentions, muted tells nothing and leaves the thread out of the lists
unless asked. Asking a question watches it; replying tracks it (never over a member's choice).

Search is an inverted index built here (``tokens``) rather than FTS5 or tsvector, so that
SQLite and PostgreSQL split words the same way and give the same threads for a query: every
word of the query must match a word of the thread, the last one as a prefix.
"""
from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import nh3
from markdown_it import MarkdownIt
from pygments import highlight as _pygments_highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.token import STANDARD_TYPES
from pygments.util import ClassNotFound
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import permissions
from ..errors import Conflict, Forbidden, InvalidInput, NotFound, TooManyRequests
from ..models import Course, Enrollment, Lesson, LessonVersion, User
from ..models.base import utcnow
from ..models.forum import (KINDS, LEVELS, ForumCourseLevel, ForumPost, ForumRead, ForumReport, ForumSuspension,
                            ForumTerm, ForumThread, ForumThreadLevel, ForumVote)
from . import audit, catalog, notifications

MAX_TITLE = 200
MAX_BODY_BYTES = 100_000
MAX_MENTIONS = 20  # members a post may mention; further @names are plain text
MAX_TERMS = 2_000  # distinct words of one post in the search index
MAX_TERM = 64
MAX_QUERY_WORDS = 8
MAX_CELL_ID = 100
MAX_HIGHLIGHT = 20_000  # characters of a code block worth highlighting
ANONYMOUS = "Anonymous"
ANONYMOUS_NOTE = "Anonymous to classmates: the course staff can see who wrote it."
ANONYMOUS_NOTE_AUTHOR = "Only you and the course staff can see that you wrote this; classmates see “Anonymous”."
ANONYMOUS_NOTE_STAFF = ("Anonymous to classmates: the course staff can see who wrote it with “Show author”, "
                        "and each look is written to the audit log.")
HIDDEN_STUB = "A post hidden by the course staff."
MAX_REASON = 500
MAX_SUSPENSION_DAYS = 365
MAX_QUEUE = 100  # reported posts on one page of the moderation queue
LEVEL_LABELS = {"watching": "Watching", "tracking": "Tracking", "normal": "Normal", "muted": "Muted"}
LEVEL_HELP = {
    "watching": "You are told of every new post.",
    "tracking": "The lists show how many posts are new; you are told of replies to you and mentions.",
    "normal": "You are told of replies to you and mentions.",
    "muted": "You are told nothing, and the lists leave it out unless you ask for muted threads.",
}
_RANK = {"muted": 0, "normal": 1, "tracking": 2, "watching": 3}
DEFAULT_LIMIT, MAX_LIMIT = 20, 100


# ------------------------------------------------------------------ Markdown
_formatter = HtmlFormatter(nowrap=True)
_CODE_CLASSES = {c for c in STANDARD_TYPES.values() if c}


def _highlight(code: str, lang: str, _attrs) -> str:
    if not lang or len(code) > MAX_HIGHLIGHT:
        return ""
    try:
        lexer = get_lexer_by_name(lang.split()[0][:40])
    except ClassNotFound:
        return ""
    return _pygments_highlight(code, lexer, _formatter)


# maxNesting: "> > > > ..." a thousand deep renders as text past 20 levels, not as 1,000 elements
_md = MarkdownIt("commonmark", {"html": False, "highlight": _highlight, "maxNesting": 20}).enable("table")
_ALLOWED_CLASSES = {"span": _CODE_CLASSES, "pre": {"highlight"}}


def render(body: str) -> str:
    """A post's Markdown as HTML: raw HTML is shown as text, code blocks are highlighted, and
    nh3 keeps only harmless tags, attributes and link schemes."""
    return nh3.clean(_md.render(body or ""), allowed_classes=_ALLOWED_CLASSES,
                     link_rel="nofollow noopener noreferrer ugc",
                     url_schemes={"http", "https", "mailto"})


_CODE = re.compile(r"```.*?(```|$)|~~~.*?(~~~|$)|`[^`\n]*`", re.S)
_MENTION = re.compile(r"(?<![\w@/.])@([A-Za-z0-9][\w.-]{0,99})")


def mention_names(body: str, limit: int = MAX_MENTIONS * 3) -> list[str]:
    """The distinct @names a post writes outside code, in order, at most ``limit``."""
    names: list[str] = []
    for match in _MENTION.finditer(_CODE.sub(" ", body or "")):
        name = match.group(1).rstrip(".-")
        if name and name not in names:
            names.append(name)
            if len(names) >= limit:
                break
    return names


# ------------------------------------------------------------------ search
_WORD = re.compile(r"\w+")


def tokens(text: str) -> list[str]:
    """The words of a text as the index stores them: NFKC, case-folded, at most 64 characters."""
    return [w[:MAX_TERM] for w in _WORD.findall(unicodedata.normalize("NFKC", text or "").casefold())]


def _index(session: Session, post: ForumPost, text: str) -> None:
    terms = list(dict.fromkeys(tokens(text)))[:MAX_TERMS]
    if terms:
        session.execute(insert(ForumTerm), [{"post_id": post.id, "thread_id": post.thread_id, "term": t}
                                            for t in terms])


# ------------------------------------------------------------------ who
@dataclass(frozen=True)
class Limits:
    """The new-account rate limit (LMSConfig.forum_new_account_*)."""

    new_account_days: int = 7
    posts_per_hour: int = 10


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=timezone.utc) if value is not None and value.tzinfo is None else value


def _enrolled(session: Session, user: User, course: Course) -> bool:
    return session.scalar(select(Enrollment.id).where(Enrollment.user_id == user.id,
                                                      Enrollment.course_id == course.id)) is not None


@dataclass
class Member:
    user: User
    course: Course
    staff: bool


def member(session: Session, user: User | None, slug: str) -> Member:
    """The course, if ``user`` may read and post in its Q&A (403 otherwise)."""
    course = catalog.get_course(session, slug, viewer=user)
    return _member_of(session, user, course)


def _member_of(session: Session, user: User | None, course: Course) -> Member:
    if user is None or not permissions.is_forum_member(user, course, _enrolled(session, user, course)):
        raise Forbidden(f"the Q&A of {course.title!r} is for its enrolled students and staff")
    return Member(user, course, permissions.is_forum_staff(user, course))


def _thread_for(session: Session, user: User | None, thread_id: int) -> tuple[ForumThread, Member]:
    thread = session.get(ForumThread, thread_id) if 0 < thread_id < 2**31 else None
    if thread is None:
        raise NotFound(f"no thread {thread_id}")
    course = session.get(Course, thread.course_id)
    m = _member_of(session, user, course)
    if not permissions.may_see_thread(user, course, thread.author_id, thread.private):
        raise NotFound(f"no thread {thread_id}")  # a private thread is not there for classmates
    if thread.hidden and not m.staff and thread.author_id != m.user.id:
        raise NotFound(f"no thread {thread_id}")  # its question is hidden by the staff
    return thread, m


def _post_for(session: Session, user: User | None, post_id: int) -> tuple[ForumPost, ForumThread, Member]:
    post = session.get(ForumPost, post_id) if 0 < post_id < 2**31 else None
    if post is None:
        raise NotFound(f"no post {post_id}")
    thread, m = _thread_for(session, user, post.thread_id)
    if post.hidden_at is not None and not m.staff and post.author_id != m.user.id:
        raise NotFound(f"no post {post_id}")  # hidden by the staff: only a stub shows
    return post, thread, m


def active_suspension(session: Session, user_id: int, course_id: int,
                      now: datetime | None = None) -> ForumSuspension | None:
    """The member's suspension from the course's Q&A in force at ``now``, if any."""
    now = now or utcnow()
    return session.scalars(select(ForumSuspension).where(
        ForumSuspension.course_id == course_id, ForumSuspension.user_id == user_id,
        ForumSuspension.lifted_at.is_(None), ForumSuspension.ends_at > now)
        .order_by(ForumSuspension.ends_at.desc()).limit(1)).first()


def _when(value: datetime) -> str:
    return _aware(value).strftime("%Y-%m-%d %H:%M UTC")


def suspension_message(course: Course, suspension: ForumSuspension) -> str:
    return (f"You are suspended from the Q&A of {course.title!r} until {_when(suspension.ends_at)}: "
            f"{suspension.reason} You can still read it, but not post, vote or report.")


def _check_not_suspended(session: Session, m: Member, now: datetime | None = None) -> None:
    if m.staff:
        return
    suspension = active_suspension(session, m.user.id, m.course.id, now)
    if suspension is not None:
        raise Forbidden(suspension_message(m.course, suspension), suspended_until=_aware(suspension.ends_at)
                        .isoformat())


def _check_rate(session: Session, m: Member, limits: Limits, now: datetime, *, what: str = "post") -> None:
    """A new account (younger than ``limits.new_account_days``) may post, and report, at most
    ``limits.posts_per_hour`` times in any hour; older accounts and the staff are not limited."""
    if m.staff or limits.posts_per_hour <= 0:
        return
    created = _aware(m.user.created_at) or now
    if created <= now - timedelta(days=limits.new_account_days):
        return
    since = now - timedelta(hours=1)
    if what == "report":
        stmt = select(ForumReport.created_at).where(ForumReport.reporter_id == m.user.id,
                                                    ForumReport.created_at > since).order_by(ForumReport.created_at)
    else:
        stmt = select(ForumPost.created_at).where(ForumPost.author_id == m.user.id,
                                                  ForumPost.created_at > since).order_by(ForumPost.created_at)
    recent = list(session.scalars(stmt))
    if len(recent) >= limits.posts_per_hour:
        oldest = _aware(recent[-limits.posts_per_hour])
        wait = max(1, int((oldest + timedelta(hours=1) - now).total_seconds()) + 1)
        raise TooManyRequests(f"new accounts may {what} {limits.posts_per_hour} times an hour in the Q&A: "
                              f"try again in {wait // 60 + 1} minutes", retry_after=wait)


# ------------------------------------------------------------------ input
def _text(value, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be text", field=name)
    return value


def _flag(value, name: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidInput(f"{name} must be true or false", field=name)
    return value


def check_body(raw) -> str:
    body = _text(raw, "body").replace("\x00", "")
    if not body.strip():
        raise InvalidInput("Write something in the post: it is empty.", field="body")
    size = len(body.encode("utf-8"))
    if size > MAX_BODY_BYTES:
        raise InvalidInput(f"The post is {size // 1000} kB; a post may be at most {MAX_BODY_BYTES // 1000} kB.",
                           field="body")
    return body


def check_title(raw) -> str:
    title = " ".join(_text(raw, "title").split())
    if not title:
        raise InvalidInput("Give the thread a title: it is empty.", field="title")
    if len(title) > MAX_TITLE:
        raise InvalidInput(f"The title is {len(title)} characters; at most {MAX_TITLE}.", field="title")
    return title


def _anchor(session: Session, course: Course, lesson_key, cell_id, version) -> tuple[int | None, int | None, str | None]:
    lesson_key = _text(lesson_key, "lesson").strip()
    cell_id = _text(cell_id, "cell_id").strip()
    if not lesson_key:
        if cell_id or version is not None:
            raise InvalidInput("A cell or version needs a lesson: name the lesson too.", field="lesson")
        return None, None, None
    lesson = next((ls for ls in course.lessons if ls.key == lesson_key), None)
    if lesson is None:
        raise InvalidInput(f"{course.title!r} has no lesson {lesson_key[:100]!r}.", field="lesson")
    if not cell_id and version is None:
        return lesson.id, None, None
    stmt = select(LessonVersion).where(LessonVersion.lesson_id == lesson.id)
    if version is not None:
        if not isinstance(version, int) or isinstance(version, bool):
            raise InvalidInput("version must be a whole number", field="version")
        stmt = stmt.where(LessonVersion.number == version)
    found = session.scalars(stmt.order_by(LessonVersion.number.desc()).limit(1)).first()
    if found is None:
        raise InvalidInput(f"Lesson {lesson.title!r} has no version {version}." if version is not None
                           else f"Lesson {lesson.title!r} has no published version yet.", field="version")
    if cell_id:
        if len(cell_id) > MAX_CELL_ID:
            raise InvalidInput("The cell id is too long.", field="cell_id")
        try:
            cells = json.loads(found.student_notebook).get("cells") or []
        except (ValueError, AttributeError):
            cells = []
        if cell_id not in {c.get("id") for c in cells if isinstance(c, dict)}:
            raise InvalidInput(f"Version {found.number} of lesson {lesson.title!r} has no cell {cell_id[:100]!r}.",
                               field="cell_id")
    return lesson.id, found.id, cell_id or None


def _mentions(session: Session, course: Course, body: str) -> list[int]:
    names = mention_names(body)
    if not names:
        return []
    enrolled = select(Enrollment.user_id).where(Enrollment.course_id == course.id)
    teacher = course.instructor.user_id if course.instructor is not None else -1
    found = {name: uid for uid, name in session.execute(
        select(User.id, User.hub_name).where(User.hub_name.in_(names), User.deleted_at.is_(None),
                                             (User.id.in_(enrolled)) | (User.id == teacher)))}
    return [found[n] for n in names if n in found][:MAX_MENTIONS]


# ------------------------------------------------------------------ telling people
def _excerpt(body: str, limit: int = 300) -> str:
    text = re.sub(r"\s+", " ", body).strip()
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


def _may_see(session: Session, thread: ForumThread, course: Course, user_ids) -> list[int]:
    """Those of ``user_ids`` who can read ``thread`` (a private or hidden one: its author and the staff)."""
    ids = [uid for uid in dict.fromkeys(user_ids) if uid]
    if not (thread.private or thread.hidden) or not ids:
        return ids
    users = session.scalars(select(User).where(User.id.in_(ids))).all()
    return [u.id for u in users if u.id == thread.author_id or permissions.is_forum_staff(u, course)]


def _members_among(session: Session, course: Course, user_ids) -> list[int]:
    """Those of ``user_ids`` who still belong to the course's Q&A (enrolled, or its staff)."""
    ids = [uid for uid in dict.fromkeys(user_ids) if uid]
    if not ids:
        return []
    enrolled = set(session.scalars(select(Enrollment.user_id).where(Enrollment.course_id == course.id,
                                                                     Enrollment.user_id.in_(ids))))
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(ids), User.deleted_at.is_(None)))}
    return [uid for uid in ids if uid in users and permissions.is_forum_member(users[uid], course, uid in enrolled)]


def _levels_of_thread(session: Session, thread: ForumThread) -> dict[int, str]:
    """Every member's effective level for ``thread`` that is not 'normal' (the thread's own row
    wins over the course's)."""
    levels = dict(session.execute(select(ForumCourseLevel.user_id, ForumCourseLevel.level).where(
        ForumCourseLevel.course_id == thread.course_id)).all())
    levels.update(session.execute(select(ForumThreadLevel.user_id, ForumThreadLevel.level).where(
        ForumThreadLevel.thread_id == thread.id)).all())
    return levels


def _tell_about_post(session: Session, m: Member, thread: ForumThread, post: ForumPost) -> None:
    """A new post tells those watching the thread (or its course) and the thread's author (and, for
    a comment, the commented post's author) that someone replied, and the members it @mentions;
    never the poster, never someone who muted the thread or cannot read it. An anonymous post does
    not name its author, not even to the staff, here."""
    who = "A classmate" if post.anonymous else _name(m.user)
    url = f"forum/threads/{thread.id}#post-{post.id}"
    actor = None if post.anonymous else m.user.id
    levels = _levels_of_thread(session, thread)
    muted = {uid for uid, level in levels.items() if level == "muted"}
    watching = [uid for uid, level in levels.items() if level == "watching"]
    repliers = [] if post.opening else [thread.author_id]
    if post.parent_id:
        repliers.append(session.scalar(select(ForumPost.author_id).where(ForumPost.id == post.parent_id)))
    candidates = [uid for uid in repliers + sorted(watching) if uid and uid not in muted and uid != m.user.id]
    told = _may_see(session, thread, m.course, _members_among(session, m.course, candidates))
    if post.opening:
        title = f"{who} asked “{thread.title}”" if thread.kind == "question" \
            else f"{who} started “{thread.title}”"
    else:
        title = f"{who} replied to “{thread.title}”"
    notifications.notify(session, user_ids=told, kind="reply", actor_id=actor, url=url, title=title,
                         body=_excerpt(post.body), dedupe_key=f"forum-post:{post.id}")
    named = [uid for uid in json.loads(post.mentions or "[]")
             if uid != m.user.id and uid not in told and uid not in muted]
    mentioned = _may_see(session, thread, m.course, named)
    notifications.notify(session, user_ids=mentioned, kind="mention", actor_id=actor, url=url,
                         title=f"{who} mentioned you in “{thread.title}”", body=_excerpt(post.body),
                         dedupe_key=f"forum-mention:{post.id}")


def _tell_author(session: Session, m: Member, thread: ForumThread, post: ForumPost, kind: str, what: str) -> None:
    if post.author_id == m.user.id:
        return
    notifications.notify(session, user_ids=[post.author_id], kind=kind, actor_id=m.user.id,
                         url=f"forum/threads/{thread.id}#post-{post.id}",
                         title=f"Your answer in \u201c{thread.title}\u201d was {what}", body=_excerpt(post.body),
                         dedupe_key=f"forum-{kind}:{post.id}")


# ------------------------------------------------------------------ writing
def _new_post(session: Session, m: Member, thread: ForumThread, body: str, *, parent_id=None, opening=False,
              anonymous=False, now: datetime, index_text: str = "") -> ForumPost:
    post = ForumPost(thread_id=thread.id, author_id=m.user.id, parent_id=parent_id, opening=opening, body=body,
                     html=render(body), anonymous=anonymous, by_staff=m.staff, score=0,
                     mentions=json.dumps(_mentions(session, m.course, body)), created_at=now)
    session.add(post)
    session.flush()
    _index(session, post, f"{index_text}\n{body}")
    thread.last_post_id = post.id
    thread.last_activity_at = now
    _mark_read(session, m.user.id, thread.id, post.id)
    return post


def create_thread(session: Session, user: User | None, slug: str, *, title, body, kind="question", lesson=None,
                  cell_id=None, version=None, anonymous=None, private=None, limits: Limits = Limits(),
                  now: datetime | None = None) -> ForumThread:
    m = member(session, user, slug)
    now = now or utcnow()
    title, body = check_title(title), check_body(body)
    if kind not in KINDS:
        raise InvalidInput("kind must be 'question' or 'discussion'", field="kind")
    anonymous, private = _flag(anonymous, "anonymous"), _flag(private, "private")
    lesson_id, version_id, cell = _anchor(session, m.course, lesson, cell_id, version)
    _check_not_suspended(session, m, now)
    _check_rate(session, m, limits, now)
    thread = ForumThread(course_id=m.course.id, author_id=m.user.id, kind=kind, title=title, lesson_id=lesson_id,
                         lesson_version_id=version_id, cell_id=cell, private=private, pinned=False, locked=False,
                         closed=False, staff_answered=False, reply_count=0, last_post_id=0, created_at=now,
                         last_activity_at=now)
    session.add(thread)
    session.flush()
    opening = _new_post(session, m, thread, body, opening=True, anonymous=anonymous, now=now, index_text=title)
    _tell_about_post(session, m, thread, opening)  # the opening post tells the course's watchers and whom it mentions
    _raise_level(session, m.user.id, thread, "watching")  # askers watch their own threads
    return thread


def add_post(session: Session, user: User | None, thread_id: int, *, body, parent=None, anonymous=None,
             limits: Limits = Limits(), now: datetime | None = None) -> ForumPost:
    """A reply to the thread, or with ``parent`` a comment on one of its posts (a comment on a
    comment joins the same conversation: two levels, as Ed shows them)."""
    thread, m = _thread_for(session, user, thread_id)
    now = now or utcnow()
    body = check_body(body)
    anonymous = _flag(anonymous, "anonymous")
    _check_not_suspended(session, m, now)
    if (thread.locked or thread.closed) and not m.staff:
        raise Forbidden(f"this thread is {'locked' if thread.locked else 'closed'}: only the staff can post in it")
    parent_id = None
    if parent is not None:
        if not isinstance(parent, int) or isinstance(parent, bool):
            raise InvalidInput("parent must be a post id", field="parent")
        target = session.get(ForumPost, parent) if 0 < parent < 2**31 else None
        if target is None or target.thread_id != thread.id or (target.hidden_at is not None and not m.staff):
            raise InvalidInput(f"this thread has no post {parent}", field="parent")
        parent_id = target.parent_id or target.id
    _check_rate(session, m, limits, now)
    post = _new_post(session, m, thread, body, parent_id=parent_id, anonymous=anonymous, now=now)
    thread.reply_count = thread.reply_count + 1
    if m.staff:
        thread.staff_answered = True
    _tell_about_post(session, m, thread, post)
    _raise_level(session, m.user.id, thread, "tracking")  # repliers track the thread
    return post


def vote(session: Session, user: User | None, post_id: int, value) -> ForumPost:
    """One vote per member and post: 1 up, -1 down, 0 takes it back."""
    if value not in (1, -1, 0) or isinstance(value, bool):
        raise InvalidInput("value must be 1 (up), -1 (down) or 0 (take the vote back)", field="value")
    post, thread, m = _post_for(session, user, post_id)
    if post.author_id == m.user.id:
        raise Forbidden("you cannot vote on your own post")
    _check_not_suspended(session, m)
    if thread.locked and not m.staff:
        raise Forbidden("this thread is locked")
    old = session.scalar(select(ForumVote.value).where(ForumVote.post_id == post.id, ForumVote.user_id == m.user.id))
    if old == value or (old is None and value == 0):
        return post
    if old is None:
        try:
            with session.begin_nested():
                session.execute(insert(ForumVote).values(post_id=post.id, user_id=m.user.id, value=value))
        except IntegrityError:  # the same member's vote from another request landed first: this one wins
            session.execute(update(ForumVote).where(ForumVote.post_id == post.id, ForumVote.user_id == m.user.id)
                            .values(value=value))
    elif value == 0:
        session.execute(delete(ForumVote).where(ForumVote.post_id == post.id, ForumVote.user_id == m.user.id))
    else:
        session.execute(update(ForumVote).where(ForumVote.post_id == post.id, ForumVote.user_id == m.user.id)
                        .values(value=value))
    # counted from the votes, so concurrent voters cannot leave a wrong sum behind
    post.score = session.scalar(select(func.coalesce(func.sum(ForumVote.value), 0))
                                .where(ForumVote.post_id == post.id))
    return post


def accept(session: Session, user: User | None, thread_id: int, post_id) -> ForumThread:
    """The accepted answer of a question (the asker or staff); ``post_id`` None takes it back."""
    thread, m = _thread_for(session, user, thread_id)
    if not permissions.may_accept(m.user, m.course, thread.author_id):
        raise Forbidden("only the person who asked or the course's staff can accept an answer")
    if thread.kind != "question":
        raise InvalidInput("only a question has an accepted answer; this thread is a discussion")
    _check_not_suspended(session, m)
    if thread.locked and not m.staff:
        raise Forbidden("this thread is locked")
    if post_id is None:
        thread.accepted_post_id = None
        return thread
    if not isinstance(post_id, int) or isinstance(post_id, bool):
        raise InvalidInput("post must be the id of an answer in this thread", field="post")
    post = session.get(ForumPost, post_id) if 0 < post_id < 2**31 else None
    if post is None or post.thread_id != thread.id:
        raise InvalidInput(f"this thread has no post {post_id}", field="post")
    if post.opening or post.parent_id is not None:
        raise InvalidInput("only an answer can be accepted (not the question or a comment)", field="post")
    if post.hidden_at is not None:
        raise InvalidInput("a post hidden by the staff cannot be the accepted answer", field="post")
    thread.accepted_post_id = post.id
    _tell_author(session, m, thread, post, "answer_accepted", "accepted")
    return thread


def endorse(session: Session, user: User | None, post_id: int, endorsed) -> ForumPost:
    post, thread, m = _post_for(session, user, post_id)
    if not m.staff:
        raise Forbidden("only the course's staff can endorse a post")
    post.endorsed = _flag(endorsed, "endorsed")
    if post.endorsed:
        _tell_author(session, m, thread, post, "answer_endorsed", "endorsed by the staff")
    return post


def moderate(session: Session, user: User | None, thread_id: int, **flags) -> ForumThread:
    """Pin, lock or close a thread (staff)."""
    thread, m = _thread_for(session, user, thread_id)
    if not m.staff:
        raise Forbidden("only the course's staff can pin, lock or close a thread")
    unknown = set(flags) - {"pinned", "locked", "closed"}
    if unknown:
        raise InvalidInput(f"unknown field(s): {', '.join(sorted(unknown))}")
    before = {k: getattr(thread, k) for k in flags}
    for key, value in flags.items():
        setattr(thread, key, _flag(value, key))
    after = {k: getattr(thread, k) for k in flags}
    if before != after:
        audit.record(session, m.user, "forum.thread.moderate", "forum_thread", thread.id,
                     before=before, after=after, summary=f"thread {thread.id} of {m.course.slug}")
    return thread


def reveal(session: Session, user: User | None, post_id: int) -> User:
    """Who wrote an anonymous post, for the course's staff; the audit log records each look."""
    post, thread, m = _post_for(session, user, post_id)
    if not m.staff:
        raise Forbidden("only the course's staff can see who wrote an anonymous post")
    author = session.get(User, post.author_id)
    if post.anonymous:
        audit.record(session, m.user, "forum.post.reveal", "forum_post", post.id,
                     after={"author": author.hub_name, "thread": thread.id, "course": m.course.slug},
                     summary=f"revealed the author of an anonymous post in thread {thread.id} of {m.course.slug}")
    return author


# ------------------------------------------------------------------ notification levels
def _check_level(level) -> str:
    if level not in LEVELS:
        raise InvalidInput("level must be one of: " + ", ".join(LEVELS), field="level")
    return level


def _course_level(session: Session, user_id: int, course_id: int) -> str | None:
    return session.scalar(select(ForumCourseLevel.level).where(ForumCourseLevel.user_id == user_id,
                                                               ForumCourseLevel.course_id == course_id))


def _upsert_thread_level(session: Session, user_id: int, thread_id: int, level: str, chosen: bool) -> None:
    row = session.get(ForumThreadLevel, (user_id, thread_id))
    if row is None:
        try:
            with session.begin_nested():
                session.add(ForumThreadLevel(user_id=user_id, thread_id=thread_id, level=level, chosen=chosen))
            return
        except IntegrityError:  # the same member's other request set it first
            row = session.get(ForumThreadLevel, (user_id, thread_id), populate_existing=True)
    if row.chosen and not chosen:
        return  # never over the member's own choice
    row.level, row.chosen = level, chosen
    session.flush()


def _raise_level(session: Session, user_id: int, thread: ForumThread, level: str) -> None:
    """Asking watches, replying tracks: only up from what the member has now, never over a choice."""
    row = session.get(ForumThreadLevel, (user_id, thread.id))
    if row is not None and row.chosen:
        return
    current = row.level if row is not None else (_course_level(session, user_id, thread.course_id) or "normal")
    if _RANK[level] > _RANK[current]:
        _upsert_thread_level(session, user_id, thread.id, level, chosen=False)


def set_thread_level(session: Session, user: User | None, thread_id: int, level) -> str:
    """The member's own level for one thread (it wins over the course's)."""
    thread, m = _thread_for(session, user, thread_id)
    _upsert_thread_level(session, m.user.id, thread.id, _check_level(level), chosen=True)
    return level


def set_course_level(session: Session, user: User | None, slug: str, level) -> str:
    """The member's level for the course's whole Q&A: the default of each thread without its own."""
    m = member(session, user, slug)
    level = _check_level(level)
    row = session.get(ForumCourseLevel, (m.user.id, m.course.id))
    if level == "normal":
        if row is not None:
            session.delete(row)
    elif row is None:
        try:
            with session.begin_nested():
                session.add(ForumCourseLevel(user_id=m.user.id, course_id=m.course.id, level=level))
        except IntegrityError:
            row = session.get(ForumCourseLevel, (m.user.id, m.course.id), populate_existing=True)
            row.level = level
    else:
        row.level = level
    session.flush()
    return level


def course_level(session: Session, user: User | None, slug: str) -> str:
    m = member(session, user, slug)
    return _course_level(session, m.user.id, m.course.id) or "normal"


# ------------------------------------------------------------------ moderation
_THREAD_REF = re.compile(r"^\s*(?:.*/forum/threads/)?#?(\d{1,9})(?:[/?#\s].*)?$", re.S)


def parse_thread_ref(raw) -> int:
    """A thread named by its number (12, "#12", "#12 · its title") or its link."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    match = _THREAD_REF.match(raw) if isinstance(raw, str) else None
    if match is None:
        raise InvalidInput("Name the other thread by its link or its number (\u201c#12\u201d, shown on its page).",
                           field="of")
    return int(match.group(1))


def mark_duplicate(session: Session, user: User | None, thread_id: int, of) -> ForumThread:
    """Mark a thread (staff) as asking what another thread of the same course asks; ``of`` None
    (or "") takes the mark back. A thread already marked points on to its original."""
    thread, m = _thread_for(session, user, thread_id)
    if not m.staff:
        raise Forbidden("only the course's staff can mark a thread as a duplicate")
    before = thread.duplicate_of_id
    if of is None or of == "":
        thread.duplicate_of_id = None
    else:
        target_id = parse_thread_ref(of)
        target = session.get(ForumThread, target_id) if 0 < target_id < 2**31 else None
        if target is None or target.course_id != thread.course_id:
            raise InvalidInput(f"{m.course.title!r} has no thread #{target_id}.", field="of")
        for _ in range(20):  # follow the marks to the original
            if target.id == thread.id:
                raise InvalidInput("A thread cannot be a duplicate of itself (or of one of its own duplicates).",
                                   field="of")
            if target.duplicate_of_id is None:
                break
            target = session.get(ForumThread, target.duplicate_of_id)
        thread.duplicate_of_id = target.id
    if before != thread.duplicate_of_id:
        audit.record(session, m.user, "forum.thread.duplicate", "forum_thread", thread.id,
                     before={"duplicate_of": before}, after={"duplicate_of": thread.duplicate_of_id},
                     summary=f"thread {thread.id} of {m.course.slug}")
    return thread


def _reason(raw, *, required: bool = True, what: str = "reason") -> str:
    reason = " ".join(_text(raw, "reason").split())
    if required and not reason:
        raise InvalidInput(f"Give a {what}: it is empty.", field="reason")
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"The {what} is {len(reason)} characters; at most {MAX_REASON}.", field="reason")
    return reason


def _resolve_reports(session: Session, m: Member, post_id: int, resolution: str, now: datetime) -> int:
    result = session.execute(update(ForumReport).where(ForumReport.post_id == post_id,
                                                       ForumReport.resolved_at.is_(None))
                             .values(resolved_at=now, resolved_by_id=m.user.id, resolution=resolution)
                             .execution_options(synchronize_session=False))
    return result.rowcount or 0


def hide_post(session: Session, user: User | None, post_id: int, reason, *, now: datetime | None = None) -> ForumPost:
    """Hide a post (staff): classmates see a stub, the staff see it greyed with the reason, its author
    sees it with the reason. Hiding the question hides the thread. Its open reports are resolved."""
    post, thread, m = _post_for(session, user, post_id)
    if not m.staff:
        raise Forbidden("only the course's staff can hide a post")
    reason, now = _reason(reason), now or utcnow()
    if post.hidden_at is None:
        post.hidden_at, post.hidden_by_id = now, m.user.id
        session.execute(delete(ForumTerm).where(ForumTerm.post_id == post.id))
        if post.opening:
            thread.hidden = True
        else:
            thread.reply_count = max(0, thread.reply_count - 1)
        if thread.accepted_post_id == post.id:
            thread.accepted_post_id = None
    post.hidden_reason = reason
    resolved = _resolve_reports(session, m, post.id, "hidden", now)
    audit.record(session, m.user, "forum.post.hide", "forum_post", post.id,
                 after={"reason": reason, "thread": thread.id, "reports_resolved": resolved},
                 summary=f"hid a post in thread {thread.id} of {m.course.slug}")
    session.flush()
    return post


def unhide_post(session: Session, user: User | None, post_id: int) -> ForumPost:
    post, thread, m = _post_for(session, user, post_id)
    if not m.staff:
        raise Forbidden("only the course's staff can show a hidden post again")
    if post.hidden_at is None:
        return post
    before = post.hidden_reason
    post.hidden_at, post.hidden_by_id, post.hidden_reason = None, None, ""
    _index(session, post, f"{thread.title if post.opening else ''}\n{post.body}")
    if post.opening:
        thread.hidden = False
    else:
        thread.reply_count = thread.reply_count + 1
    audit.record(session, m.user, "forum.post.unhide", "forum_post", post.id, before={"reason": before},
                 summary=f"showed a hidden post again in thread {thread.id} of {m.course.slug}")
    session.flush()
    return post


def report_post(session: Session, user: User | None, post_id: int, reason, *, limits: Limits = Limits(),
                now: datetime | None = None) -> ForumReport:
    """A member reports someone else's post to the course's staff, once."""
    post, thread, m = _post_for(session, user, post_id)
    now = now or utcnow()
    if post.author_id == m.user.id:
        raise InvalidInput("You cannot report your own post; you can ask the staff in a private thread instead.")
    _check_not_suspended(session, m, now)
    reason = _reason(reason, what="reason for the report")
    if post.hidden_at is not None:
        raise Conflict("This post is hidden already.")
    if session.scalar(select(ForumReport.id).where(ForumReport.post_id == post.id,
                                                   ForumReport.reporter_id == m.user.id)) is not None:
        raise Conflict("You reported this post already; the course staff will look at it.")
    _check_rate(session, m, limits, now, what="report")
    report = ForumReport(post_id=post.id, course_id=m.course.id, reporter_id=m.user.id, reason=reason,
                         created_at=now, resolution="")
    try:
        with session.begin_nested():
            session.add(report)
    except IntegrityError:  # the same member's other request landed first
        raise Conflict("You reported this post already; the course staff will look at it.") from None
    return report


def dismiss_reports(session: Session, user: User | None, post_id: int, *, now: datetime | None = None) -> int:
    """Keep the post: its open reports leave the queue (staff)."""
    post, thread, m = _post_for(session, user, post_id)
    if not m.staff:
        raise Forbidden("only the course's staff can dismiss reports")
    resolved = _resolve_reports(session, m, post.id, "dismissed", now or utcnow())
    if resolved:
        audit.record(session, m.user, "forum.report.dismiss", "forum_post", post.id,
                     after={"reports_dismissed": resolved, "thread": thread.id},
                     summary=f"kept a reported post in thread {thread.id} of {m.course.slug}")
    return resolved


def require_staff(session: Session, user: User | None, slug: str) -> Member:
    m = member(session, user, slug)
    if not m.staff:
        raise Forbidden("the Q&A's moderation is for the course's staff")
    return m


def post_summary(session: Session, user: User | None, post_id: int) -> dict:
    """One post as the moderation page names it (staff): where it is and who wrote it (an
    anonymous one stays 'Anonymous')."""
    post, thread, m = _post_for(session, user, post_id)
    if not m.staff:
        raise Forbidden("the Q&A's moderation is for the course's staff")
    author = session.get(User, post.author_id)
    return {"post": post.id, "thread": thread.id, "thread_title": thread.title, "opening": post.opening,
            "course": m.course.slug, "anonymous": post.anonymous,
            "author": ANONYMOUS if post.anonymous else _name(author)}


def open_reports(session: Session, course_id: int) -> int:
    """How many posts of the course wait in its moderation queue."""
    return session.scalar(select(func.count(func.distinct(ForumReport.post_id))).where(
        ForumReport.course_id == course_id, ForumReport.resolved_at.is_(None))) or 0


def moderation_queue(session: Session, user: User | None, slug: str | None = None) -> list[dict]:
    """The reported posts waiting for a decision: one course's (its staff) or every course's
    (admins), oldest report first. An anonymous post stays anonymous here."""
    stmt = select(ForumReport).where(ForumReport.resolved_at.is_(None))
    if slug is None:
        permissions.require_admin(user, "the Q&A reports of every course are for LMS admins")
    else:
        m = member(session, user, slug)
        if not m.staff:
            raise Forbidden("the moderation queue is for the course's staff")
        stmt = stmt.where(ForumReport.course_id == m.course.id)
    reports = list(session.scalars(stmt.order_by(ForumReport.created_at, ForumReport.id)))
    by_post: dict[int, list[ForumReport]] = {}
    for r in reports:
        if r.post_id in by_post or len(by_post) < MAX_QUEUE:
            by_post.setdefault(r.post_id, []).append(r)
    if not by_post:
        return []
    posts = {p.id: p for p in session.scalars(select(ForumPost).where(ForumPost.id.in_(by_post)))}
    threads = {t.id: t for t in session.scalars(select(ForumThread).where(
        ForumThread.id.in_({p.thread_id for p in posts.values()})))}
    courses = {c.id: c for c in session.scalars(select(Course).where(
        Course.id.in_({t.course_id for t in threads.values()})))}
    people = {u.id: u for u in session.scalars(select(User).where(User.id.in_(
        {p.author_id for p in posts.values()} | {r.reporter_id for r in reports})))}
    out = []
    for post_id, rs in by_post.items():
        post = posts[post_id]
        thread, author = threads[post.thread_id], people.get(post.author_id)
        course = courses[thread.course_id]
        out.append({"post": post.id, "thread": thread.id, "thread_title": thread.title, "course": course.slug,
                    "course_title": course.title, "opening": post.opening, "html": post.html,
                    "excerpt": _excerpt(post.body), "anonymous": post.anonymous,
                    "author": ANONYMOUS if post.anonymous else _name(author),
                    "username": None if post.anonymous else (author.hub_name if author else None),
                    "created_at": _aware(post.created_at).isoformat(),
                    "reports": [{"reporter": _name(people.get(r.reporter_id)), "reason": r.reason,
                                 "created_at": _aware(r.created_at).isoformat()} for r in rs]})
    return out


def suspend(session: Session, user: User | None, slug: str, *, username=None, post=None, days, reason,
            now: datetime | None = None) -> ForumSuspension:
    """Bar a member (by name, or as the author of one of the course's posts) from posting, voting
    and reporting in the course's Q&A for ``days`` (staff). A new suspension replaces one in force."""
    m = member(session, user, slug)
    if not m.staff:
        raise Forbidden("only the course's staff can suspend a member from the Q&A")
    now = now or utcnow()
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_SUSPENSION_DAYS:
        raise InvalidInput(f"days must be a whole number from 1 to {MAX_SUSPENSION_DAYS}", field="days")
    reason = _reason(reason)
    via_post = None
    if post is not None:
        if not isinstance(post, int) or isinstance(post, bool):
            raise InvalidInput("post must be a post id", field="post")
        via_post = session.get(ForumPost, post) if 0 < post < 2**31 else None
        thread = session.get(ForumThread, via_post.thread_id) if via_post is not None else None
        if thread is None or thread.course_id != m.course.id:
            raise InvalidInput(f"{m.course.title!r} has no post {post}", field="post")
        target = session.get(User, via_post.author_id)
    else:
        name = _text(username, "user").strip().lstrip("@")
        if not name:
            raise InvalidInput("Name the member to suspend (their user name).", field="user")
        target = session.scalar(select(User).where(User.hub_name == name[:200], User.deleted_at.is_(None)))
        if target is None or not _members_among(session, m.course, [target.id]):
            raise InvalidInput(f"{m.course.title!r} has no member {name[:100]!r}", field="user")
    if target is None or target.deleted_at is not None:
        raise InvalidInput("that account no longer exists", field="user")
    if target.id == m.user.id:
        raise InvalidInput("You cannot suspend yourself.", field="user")
    if permissions.is_forum_staff(target, m.course):
        raise InvalidInput("The course's staff cannot be suspended from its Q&A.", field="user")
    session.execute(update(ForumSuspension).where(
        ForumSuspension.course_id == m.course.id, ForumSuspension.user_id == target.id,
        ForumSuspension.lifted_at.is_(None), ForumSuspension.ends_at > now)
        .values(lifted_at=now, lifted_by_id=m.user.id).execution_options(synchronize_session=False))
    suspension = ForumSuspension(course_id=m.course.id, user_id=target.id, reason=reason, created_at=now,
                                 ends_at=now + timedelta(days=days), created_by_id=m.user.id)
    session.add(suspension)
    session.flush()
    audit.record(session, m.user, "forum.user.suspend", "user", target.id,
                 after={"user": target.hub_name, "course": m.course.slug, "until": _when(suspension.ends_at),
                        "reason": reason, "post": via_post.id if via_post else None},
                 summary=f"suspended {target.hub_name} from the Q&A of {m.course.slug} for {days} days")
    if via_post is not None and via_post.anonymous:  # the suspension names the anonymous author
        audit.record(session, m.user, "forum.post.reveal", "forum_post", via_post.id,
                     after={"author": target.hub_name, "thread": via_post.thread_id, "course": m.course.slug},
                     summary=f"suspended the author of an anonymous post in thread {via_post.thread_id}")
    return suspension


def lift_suspension(session: Session, user: User | None, slug: str, suspension_id: int,
                    now: datetime | None = None) -> ForumSuspension:
    m = member(session, user, slug)
    if not m.staff:
        raise Forbidden("only the course's staff can lift a suspension")
    suspension = session.get(ForumSuspension, suspension_id) if 0 < suspension_id < 2**31 else None
    if suspension is None or suspension.course_id != m.course.id:
        raise NotFound(f"no suspension {suspension_id} in {m.course.title!r}")
    now = now or utcnow()
    if suspension.lifted_at is None and _aware(suspension.ends_at) > now:
        suspension.lifted_at, suspension.lifted_by_id = now, m.user.id
        target = session.get(User, suspension.user_id)
        audit.record(session, m.user, "forum.user.unsuspend", "user", suspension.user_id,
                     before={"until": _when(suspension.ends_at)}, after={"until": _when(now)},
                     summary=f"lifted the Q&A suspension of {target.hub_name if target else 'a user'} "
                             f"in {m.course.slug}")
        session.flush()
    return suspension


def suspensions(session: Session, user: User | None, slug: str, now: datetime | None = None) -> list[dict]:
    """The suspensions in force in the course's Q&A (staff)."""
    m = member(session, user, slug)
    if not m.staff:
        raise Forbidden("the course's suspensions are for its staff")
    rows = list(session.scalars(select(ForumSuspension).where(
        ForumSuspension.course_id == m.course.id, ForumSuspension.lifted_at.is_(None),
        ForumSuspension.ends_at > (now or utcnow())).order_by(ForumSuspension.ends_at)))
    people = {u.id: u for u in session.scalars(select(User).where(
        User.id.in_({r.user_id for r in rows} | {r.created_by_id for r in rows if r.created_by_id})))}
    return [{"id": r.id, "user": _name(people.get(r.user_id)),
             "username": people[r.user_id].hub_name if r.user_id in people else None, "reason": r.reason,
             "until": _aware(r.ends_at).isoformat(), "until_text": _when(r.ends_at),
             "by": _name(people.get(r.created_by_id)) if r.created_by_id else "",
             "created_at": _aware(r.created_at).isoformat()} for r in rows]


def _mark_read(session: Session, user_id: int, thread_id: int, last_post_id: int) -> None:
    row = session.get(ForumRead, (user_id, thread_id))
    if row is None:
        try:
            with session.begin_nested():
                session.add(ForumRead(user_id=user_id, thread_id=thread_id, last_post_id=last_post_id))
            return
        except IntegrityError:  # the same user's other tab marked it first
            row = session.get(ForumRead, (user_id, thread_id), populate_existing=True)
    if row is not None and row.last_post_id < last_post_id:
        row.last_post_id = last_post_id
        session.flush()


# ------------------------------------------------------------------ reading
def _name(user: User | None) -> str:
    if user is None:
        return "deleted user"
    return user.display_name or user.hub_name


def _author(post: ForumPost, users: dict[int, User], viewer: User, staff: bool = False) -> dict:
    if not post.anonymous:
        u = users.get(post.author_id)
        return {"author": _name(u), "username": u.hub_name if u else None, "anonymous": False,
                "staff": post.by_staff}
    own = post.author_id == viewer.id
    note = ANONYMOUS_NOTE_AUTHOR if own else ANONYMOUS_NOTE_STAFF if staff else ANONYMOUS_NOTE
    return {"author": f"{_name(users.get(post.author_id))} (you)" if own else ANONYMOUS,
            "username": viewer.hub_name if own else None, "anonymous": True, "staff": False,
            "audience": note}


def _visible(stmt, m: Member):
    if not m.staff:
        stmt = stmt.where((ForumThread.private.is_(False)) | (ForumThread.author_id == m.user.id))
        stmt = stmt.where((ForumThread.hidden.is_(False)) | (ForumThread.author_id == m.user.id))
    return stmt


visible = _visible  # the threads of a course ``m`` may see, for other services' queries (forum_ask)


def _unmuted(stmt, m: Member, course_level: str | None):
    """Leave out the threads the member muted (or, with the course muted, those not un-muted)."""
    own = select(ForumThreadLevel.thread_id).where(ForumThreadLevel.user_id == m.user.id)
    if course_level == "muted":
        return stmt.where(ForumThread.id.in_(own.where(ForumThreadLevel.level != "muted")))
    return stmt.where(ForumThread.id.not_in(own.where(ForumThreadLevel.level == "muted")))


@dataclass
class ThreadPage:
    threads: list[dict]
    total: int
    offset: int
    limit: int
    level: str = "normal"  # the member's level for the course
    muted: int = 0  # threads left out because they are muted (0 when they were asked for)
    show_muted: bool = False


def list_threads(session: Session, user: User | None, slug: str, *, q: str = "", lesson: str = "",
                 offset: int = 0, limit: int = DEFAULT_LIMIT, muted: bool = False) -> ThreadPage:
    """A page of the course's threads the member may see, pinned first, then by last activity.
    Muted threads are left out unless ``muted``; ``ThreadPage.muted`` says how many were."""
    m = member(session, user, slug)
    if not 1 <= limit <= MAX_LIMIT or offset < 0:
        raise InvalidInput(f"limit must be 1 to {MAX_LIMIT} and offset at least 0")
    stmt = _visible(select(ForumThread).where(ForumThread.course_id == m.course.id), m)
    if lesson:
        found = next((ls for ls in m.course.lessons if ls.key == lesson), None)
        if found is None:
            raise InvalidInput(f"{m.course.title!r} has no lesson {lesson[:100]!r}", field="lesson")
        stmt = stmt.where(ForumThread.lesson_id == found.id)
    words = tokens(q)[:MAX_QUERY_WORDS]
    for i, word in enumerate(words):
        last = i == len(words) - 1
        match = ForumTerm.term.startswith(word, autoescape=True) if last else ForumTerm.term == word
        stmt = stmt.where(ForumThread.id.in_(select(ForumTerm.thread_id).where(match)))
    level = _course_level(session, m.user.id, m.course.id)
    left_out = 0
    if not muted:
        shown = _unmuted(stmt, m, level)
        everything = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        stmt = shown
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    if not muted:
        left_out = everything - total
    threads = list(session.scalars(stmt.order_by(ForumThread.pinned.desc(), ForumThread.last_activity_at.desc(),
                                                 ForumThread.id.desc()).offset(offset).limit(limit)))
    return ThreadPage(_summaries(session, m, threads, level), total, offset, limit, level or "normal", left_out,
                      muted)


def _summaries(session: Session, m: Member, threads: list[ForumThread], course_level: str | None = None) -> list[dict]:
    ids = [t.id for t in threads]
    if not ids:
        return []
    reads = dict(session.execute(select(ForumRead.thread_id, ForumRead.last_post_id).where(
        ForumRead.user_id == m.user.id, ForumRead.thread_id.in_(ids))).all())
    own_levels = dict(session.execute(select(ForumThreadLevel.thread_id, ForumThreadLevel.level).where(
        ForumThreadLevel.user_id == m.user.id, ForumThreadLevel.thread_id.in_(ids))).all())
    levels = {t.id: own_levels.get(t.id) or course_level or "normal" for t in threads}
    # unread counts for the threads the member tracks or watches (Discourse shows them for those only)
    counted = [t.id for t in threads
               if levels[t.id] in ("tracking", "watching") and reads.get(t.id, 0) < t.last_post_id]
    counts: dict[int, int] = {}
    if counted:
        stmt = (select(ForumPost.thread_id, func.count(ForumPost.id))
                .outerjoin(ForumRead, (ForumRead.thread_id == ForumPost.thread_id) & (ForumRead.user_id == m.user.id))
                .where(ForumPost.thread_id.in_(counted), ForumPost.id > func.coalesce(ForumRead.last_post_id, 0))
                .group_by(ForumPost.thread_id))
        if not m.staff:
            stmt = stmt.where(ForumPost.hidden_at.is_(None))
        counts = dict(session.execute(stmt).all())
    openings = {p.thread_id: p for p in session.scalars(
        select(ForumPost).where(ForumPost.thread_id.in_(ids), ForumPost.opening.is_(True)))}
    users = {u.id: u for u in session.scalars(select(User).where(
        User.id.in_({p.author_id for p in openings.values()})))}
    lessons = {ls.id: ls for ls in m.course.lessons}
    out = []
    for t in threads:
        opening = openings.get(t.id)
        who = _author(opening, users, m.user, m.staff) if opening else {"author": "", "anonymous": False}
        lesson = lessons.get(t.lesson_id)
        tracked = levels[t.id] in ("tracking", "watching")
        unread = counts.get(t.id, 0) > 0 if tracked else reads.get(t.id, 0) < t.last_post_id
        out.append({"id": t.id, "title": t.title, "kind": t.kind, "course": m.course.slug,
                    "lesson": lesson.key if lesson else None, "lesson_title": lesson.title if lesson else None,
                    "cell_id": t.cell_id, "private": t.private, "pinned": t.pinned, "locked": t.locked,
                    "closed": t.closed, "accepted": t.accepted_post_id is not None,
                    "staff_answered": t.staff_answered, "replies": t.reply_count,
                    "unread": unread, "new": t.id not in reads,
                    "unread_count": counts.get(t.id, 0) if tracked else None, "level": levels[t.id],
                    "duplicate_of": t.duplicate_of_id, "hidden": t.hidden,
                    "created_at": _aware(t.created_at).isoformat(),
                    "last_activity_at": _aware(t.last_activity_at).isoformat(),
                    "author": who["author"], "anonymous": who["anonymous"]})
    return out


def lesson_threads(session: Session, user: User | None, course: Course, lesson: Lesson,
                   limit: int = 10) -> list[dict] | None:
    """The lesson page's list: that lesson's threads the user may see and has not muted (None for
    non-members)."""
    try:
        m = _member_of(session, user, course)
    except Forbidden:
        return None
    level = _course_level(session, m.user.id, course.id)
    stmt = _unmuted(_visible(select(ForumThread).where(ForumThread.course_id == course.id,
                                                       ForumThread.lesson_id == lesson.id), m), m, level)
    threads = list(session.scalars(stmt.order_by(ForumThread.pinned.desc(), ForumThread.last_activity_at.desc(),
                                                 ForumThread.id.desc()).limit(limit)))
    return _summaries(session, m, threads, level)


def _link(thread: ForumThread) -> dict:
    return {"id": thread.id, "title": thread.title}


def thread_view(session: Session, user: User | None, thread_id: int, *, mark_read: bool = True) -> dict:
    """A thread with its posts as ``user`` may see them; marks it read."""
    thread, m = _thread_for(session, user, thread_id)
    posts = list(session.scalars(select(ForumPost).where(ForumPost.thread_id == thread.id).order_by(ForumPost.id)))
    users = {u.id: u for u in session.scalars(select(User).where(
        User.id.in_({p.author_id for p in posts} | {p.hidden_by_id for p in posts if p.hidden_by_id})))}
    mine = dict(session.execute(select(ForumVote.post_id, ForumVote.value).where(
        ForumVote.user_id == m.user.id, ForumVote.post_id.in_([p.id for p in posts]))).all())
    reported = set(session.scalars(select(ForumReport.post_id).where(
        ForumReport.reporter_id == m.user.id, ForumReport.post_id.in_([p.id for p in posts]))))
    open_reports = dict(session.execute(select(ForumReport.post_id, func.count(ForumReport.id)).where(
        ForumReport.post_id.in_([p.id for p in posts]), ForumReport.resolved_at.is_(None))
        .group_by(ForumReport.post_id)).all()) if m.staff else {}
    read_up_to = session.scalar(select(ForumRead.last_post_id).where(
        ForumRead.user_id == m.user.id, ForumRead.thread_id == thread.id)) or 0
    lesson = session.get(Lesson, thread.lesson_id) if thread.lesson_id else None
    version = session.get(LessonVersion, thread.lesson_version_id) if thread.lesson_version_id else None
    suspension = None if m.staff else active_suspension(session, m.user.id, m.course.id)
    may_accept = thread.kind == "question" and permissions.may_accept(m.user, m.course, thread.author_id) \
        and (m.staff or not thread.locked) and suspension is None
    views = {}
    for p in posts:
        hidden = p.hidden_at is not None
        if hidden and not m.staff and p.author_id != m.user.id:
            # a stub keeps the conversation's shape; nothing of the post shows
            views[p.id] = {"id": p.id, "parent": p.parent_id, "opening": p.opening, "stub": True, "hidden": True,
                           "html": "", "body": "", "score": 0, "my_vote": 0, "endorsed": False, "accepted": False,
                           "new": False, "created_at": _aware(p.created_at).isoformat(), "author": "",
                           "username": None, "anonymous": False, "staff": False, "can_vote": False,
                           "can_accept": False, "can_reveal": False, "can_report": False, "can_hide": False,
                           "reported": False, "open_reports": 0, "comments": []}
            continue
        views[p.id] = {"id": p.id, "parent": p.parent_id, "opening": p.opening, "html": p.html, "body": p.body,
                       "score": p.score, "my_vote": mine.get(p.id, 0), "endorsed": p.endorsed,
                       "accepted": p.id == thread.accepted_post_id, "new": p.id > read_up_to,
                       "created_at": _aware(p.created_at).isoformat(), **_author(p, users, m.user, m.staff),
                       "stub": False, "hidden": hidden,
                       "hidden_reason": p.hidden_reason if hidden else None,
                       "hidden_by": _name(users.get(p.hidden_by_id)) if hidden and m.staff and p.hidden_by_id else None,
                       "can_vote": p.author_id != m.user.id and (m.staff or not thread.locked) and not hidden
                       and suspension is None,
                       "can_accept": may_accept and not p.opening and p.parent_id is None and not hidden,
                       "can_reveal": m.staff and p.anonymous and p.author_id != m.user.id,
                       "can_report": not m.staff and p.author_id != m.user.id and not hidden and p.id not in reported
                       and suspension is None,
                       "reported": p.id in reported, "can_hide": m.staff, "open_reports": open_reports.get(p.id, 0),
                       "comments": []}
    answers = []
    for p in posts:
        if p.opening:
            continue
        if p.parent_id is not None and p.parent_id in views:
            views[p.parent_id]["comments"].append(views[p.id])
        else:
            answers.append(views[p.id])
    # a stub with nothing under it is left out
    answers = [a for a in answers if not (a["stub"] and not a["comments"])]
    for a in answers:
        a["comments"] = [c for c in a["comments"] if not c["stub"]]
    # the accepted answer first, then endorsed ones, then by votes, then oldest first
    answers.sort(key=lambda a: (not a["accepted"], not a["endorsed"], -a["score"], a["id"]))
    opening = next((views[p.id] for p in posts if p.opening), None)
    if opening is not None:
        opening["comments"] = [c for c in opening["comments"] if not c["stub"]]
    if mark_read and thread.last_post_id:
        _mark_read(session, m.user.id, thread.id, thread.last_post_id)
    original = session.get(ForumThread, thread.duplicate_of_id) if thread.duplicate_of_id else None
    if original is not None and not _may_see(session, original, m.course, [m.user.id]) and not m.staff:
        original_view = {"id": None, "title": None}  # marked, but the original is not for this reader
    else:
        original_view = _link(original) if original is not None else None
    duplicates = [_link(t) for t in session.scalars(_visible(select(ForumThread).where(
        ForumThread.duplicate_of_id == thread.id), m).order_by(ForumThread.id).limit(50))]
    own_level = session.scalar(select(ForumThreadLevel.level).where(ForumThreadLevel.user_id == m.user.id,
                                                                    ForumThreadLevel.thread_id == thread.id))
    level = own_level or _course_level(session, m.user.id, m.course.id) or "normal"
    return {"id": thread.id, "title": thread.title, "kind": thread.kind, "course": m.course.slug,
            "course_title": m.course.title, "lesson": lesson.key if lesson else None,
            "lesson_title": lesson.title if lesson else None,
            "lesson_version": version.number if version else None, "cell_id": thread.cell_id,
            "private": thread.private, "pinned": thread.pinned, "locked": thread.locked, "closed": thread.closed,
            "hidden": thread.hidden, "accepted_post": thread.accepted_post_id, "staff_answered": thread.staff_answered,
            "replies": thread.reply_count, "staff": m.staff, "may_accept": may_accept,
            "may_post": suspension is None and (m.staff or not (thread.locked or thread.closed)),
            "suspended": {"until": _aware(suspension.ends_at).isoformat(), "reason": suspension.reason,
                          "message": suspension_message(m.course, suspension)} if suspension else None,
            "duplicate_of": original_view, "duplicates": duplicates,
            "level": level, "level_own": own_level is not None,
            "created_at": _aware(thread.created_at).isoformat(), "question": opening, "answers": answers}


def course_lessons(session: Session, user: User | None, slug: str) -> Member:
    """The course and the member's standing, for the Q&A pages' forms."""
    return member(session, user, slug)


def recent_threads(session: Session, user: User | None, slug: str, limit: int = 50) -> list[dict]:
    """The course's latest threads as links (the staff's duplicate picker)."""
    m = member(session, user, slug)
    stmt = _visible(select(ForumThread).where(ForumThread.course_id == m.course.id), m)
    return [_link(t) for t in session.scalars(stmt.order_by(ForumThread.last_activity_at.desc(),
                                                            ForumThread.id.desc()).limit(limit))]


def thread_of_post(session: Session, post_id: int) -> int:
    thread_id = session.scalar(select(ForumPost.thread_id).where(ForumPost.id == post_id))
    if thread_id is None:
        raise NotFound(f"no post {post_id}")
    return thread_id
