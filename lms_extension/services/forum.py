"""Course Q&A: threads, posts, votes (the forum of a course, anchored to lessons and notebook cells).

The one writer of ``forum_threads``, ``forum_posts``, ``forum_votes``, ``forum_reads`` and
``forum_terms``. Only a course's members (enrolled students, its instructor, admins) read or
post; a private thread shows to its author and the staff only; an anonymous post shows its
author to nobody but themselves until a staff member reveals it, which the audit log records.

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
from ..errors import Forbidden, InvalidInput, NotFound, TooManyRequests
from ..models import Course, Enrollment, Lesson, LessonVersion, User
from ..models.base import utcnow
from ..models.forum import KINDS, ForumPost, ForumRead, ForumTerm, ForumThread, ForumVote
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
    return thread, m


def _post_for(session: Session, user: User | None, post_id: int) -> tuple[ForumPost, ForumThread, Member]:
    post = session.get(ForumPost, post_id) if 0 < post_id < 2**31 else None
    if post is None:
        raise NotFound(f"no post {post_id}")
    thread, m = _thread_for(session, user, post.thread_id)
    return post, thread, m


def _check_rate(session: Session, m: Member, limits: Limits, now: datetime) -> None:
    if m.staff or limits.posts_per_hour <= 0:
        return
    created = _aware(m.user.created_at) or now
    if created <= now - timedelta(days=limits.new_account_days):
        return
    since = now - timedelta(hours=1)
    recent = list(session.scalars(select(ForumPost.created_at).where(
        ForumPost.author_id == m.user.id, ForumPost.created_at > since).order_by(ForumPost.created_at)))
    if len(recent) >= limits.posts_per_hour:
        oldest = _aware(recent[-limits.posts_per_hour])
        wait = max(1, int((oldest + timedelta(hours=1) - now).total_seconds()) + 1)
        raise TooManyRequests(f"new accounts may post {limits.posts_per_hour} times an hour in the Q&A: "
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
    """Those of ``user_ids`` who can read ``thread`` (a private one: its author and the staff)."""
    ids = [uid for uid in dict.fromkeys(user_ids) if uid]
    if not thread.private or not ids:
        return ids
    users = session.scalars(select(User).where(User.id.in_(ids))).all()
    return [u.id for u in users if u.id == thread.author_id or permissions.is_forum_staff(u, course)]


def _tell_about_post(session: Session, m: Member, thread: ForumThread, post: ForumPost) -> None:
    """A new post tells the thread's author (and, for a comment, the commented post's author) that
    someone replied, and the members it @mentions; never the poster, never someone who cannot read
    the thread. An anonymous post does not name its author, not even to the staff, here."""
    who = "A classmate" if post.anonymous else _name(m.user)
    url = f"forum/threads/{thread.id}#post-{post.id}"
    actor = None if post.anonymous else m.user.id
    repliers = [thread.author_id]
    if post.parent_id:
        repliers.append(session.scalar(select(ForumPost.author_id).where(ForumPost.id == post.parent_id)))
    told = [uid for uid in _may_see(session, thread, m.course, repliers) if uid != m.user.id]
    notifications.notify(session, user_ids=told, kind="reply", actor_id=actor, url=url,
                         title=f"{who} replied to \u201c{thread.title}\u201d", body=_excerpt(post.body),
                         dedupe_key=f"forum-post:{post.id}")
    mentioned = [uid for uid in _may_see(session, thread, m.course, json.loads(post.mentions or "[]"))
                 if uid != m.user.id and uid not in told]
    notifications.notify(session, user_ids=mentioned, kind="mention", actor_id=actor, url=url,
                         title=f"{who} mentioned you in \u201c{thread.title}\u201d", body=_excerpt(post.body),
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
    _check_rate(session, m, limits, now)
    thread = ForumThread(course_id=m.course.id, author_id=m.user.id, kind=kind, title=title, lesson_id=lesson_id,
                         lesson_version_id=version_id, cell_id=cell, private=private, pinned=False, locked=False,
                         closed=False, staff_answered=False, reply_count=0, last_post_id=0, created_at=now,
                         last_activity_at=now)
    session.add(thread)
    session.flush()
    opening = _new_post(session, m, thread, body, opening=True, anonymous=anonymous, now=now, index_text=title)
    _tell_about_post(session, m, thread, opening)  # the opening post tells only whom it mentions
    return thread


def add_post(session: Session, user: User | None, thread_id: int, *, body, parent=None, anonymous=None,
             limits: Limits = Limits(), now: datetime | None = None) -> ForumPost:
    """A reply to the thread, or with ``parent`` a comment on one of its posts (a comment on a
    comment joins the same conversation: two levels, as Ed shows them)."""
    thread, m = _thread_for(session, user, thread_id)
    now = now or utcnow()
    body = check_body(body)
    anonymous = _flag(anonymous, "anonymous")
    if (thread.locked or thread.closed) and not m.staff:
        raise Forbidden(f"this thread is {'locked' if thread.locked else 'closed'}: only the staff can post in it")
    parent_id = None
    if parent is not None:
        if not isinstance(parent, int) or isinstance(parent, bool):
            raise InvalidInput("parent must be a post id", field="parent")
        target = session.get(ForumPost, parent) if 0 < parent < 2**31 else None
        if target is None or target.thread_id != thread.id:
            raise InvalidInput(f"this thread has no post {parent}", field="parent")
        parent_id = target.parent_id or target.id
    _check_rate(session, m, limits, now)
    post = _new_post(session, m, thread, body, parent_id=parent_id, anonymous=anonymous, now=now)
    thread.reply_count = thread.reply_count + 1
    if m.staff:
        thread.staff_answered = True
    _tell_about_post(session, m, thread, post)
    return post


def vote(session: Session, user: User | None, post_id: int, value) -> ForumPost:
    """One vote per member and post: 1 up, -1 down, 0 takes it back."""
    if value not in (1, -1, 0) or isinstance(value, bool):
        raise InvalidInput("value must be 1 (up), -1 (down) or 0 (take the vote back)", field="value")
    post, thread, m = _post_for(session, user, post_id)
    if post.author_id == m.user.id:
        raise Forbidden("you cannot vote on your own post")
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


def _author(post: ForumPost, users: dict[int, User], viewer: User) -> dict:
    if not post.anonymous:
        u = users.get(post.author_id)
        return {"author": _name(u), "username": u.hub_name if u else None, "anonymous": False,
                "staff": post.by_staff}
    own = post.author_id == viewer.id
    return {"author": f"{_name(users.get(post.author_id))} (you)" if own else ANONYMOUS,
            "username": viewer.hub_name if own else None, "anonymous": True, "staff": False,
            "audience": ANONYMOUS_NOTE}


def _visible(stmt, m: Member):
    if not m.staff:
        stmt = stmt.where((ForumThread.private.is_(False)) | (ForumThread.author_id == m.user.id))
    return stmt


@dataclass
class ThreadPage:
    threads: list[dict]
    total: int
    offset: int
    limit: int


def list_threads(session: Session, user: User | None, slug: str, *, q: str = "", lesson: str = "",
                 offset: int = 0, limit: int = DEFAULT_LIMIT) -> ThreadPage:
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
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    threads = list(session.scalars(stmt.order_by(ForumThread.pinned.desc(), ForumThread.last_activity_at.desc(),
                                                 ForumThread.id.desc()).offset(offset).limit(limit)))
    return ThreadPage(_summaries(session, m, threads), total, offset, limit)


def _summaries(session: Session, m: Member, threads: list[ForumThread]) -> list[dict]:
    ids = [t.id for t in threads]
    if not ids:
        return []
    reads = dict(session.execute(select(ForumRead.thread_id, ForumRead.last_post_id).where(
        ForumRead.user_id == m.user.id, ForumRead.thread_id.in_(ids))).all())
    openings = {p.thread_id: p for p in session.scalars(
        select(ForumPost).where(ForumPost.thread_id.in_(ids), ForumPost.opening.is_(True)))}
    users = {u.id: u for u in session.scalars(select(User).where(
        User.id.in_({p.author_id for p in openings.values()})))}
    lessons = {ls.id: ls for ls in m.course.lessons}
    out = []
    for t in threads:
        opening = openings.get(t.id)
        who = _author(opening, users, m.user) if opening else {"author": "", "anonymous": False}
        lesson = lessons.get(t.lesson_id)
        out.append({"id": t.id, "title": t.title, "kind": t.kind, "course": m.course.slug,
                    "lesson": lesson.key if lesson else None, "lesson_title": lesson.title if lesson else None,
                    "cell_id": t.cell_id, "private": t.private, "pinned": t.pinned, "locked": t.locked,
                    "closed": t.closed, "accepted": t.accepted_post_id is not None,
                    "staff_answered": t.staff_answered, "replies": t.reply_count,
                    "unread": reads.get(t.id, 0) < t.last_post_id,
                    "created_at": _aware(t.created_at).isoformat(),
                    "last_activity_at": _aware(t.last_activity_at).isoformat(),
                    "author": who["author"], "anonymous": who["anonymous"]})
    return out


def lesson_threads(session: Session, user: User | None, course: Course, lesson: Lesson,
                   limit: int = 10) -> list[dict] | None:
    """The lesson page's list: that lesson's threads the user may see (None for non-members)."""
    try:
        m = _member_of(session, user, course)
    except Forbidden:
        return None
    stmt = _visible(select(ForumThread).where(ForumThread.course_id == course.id,
                                              ForumThread.lesson_id == lesson.id), m)
    threads = list(session.scalars(stmt.order_by(ForumThread.pinned.desc(), ForumThread.last_activity_at.desc(),
                                                 ForumThread.id.desc()).limit(limit)))
    return _summaries(session, m, threads)


def thread_view(session: Session, user: User | None, thread_id: int, *, mark_read: bool = True) -> dict:
    """A thread with its posts as ``user`` may see them; marks it read."""
    thread, m = _thread_for(session, user, thread_id)
    posts = list(session.scalars(select(ForumPost).where(ForumPost.thread_id == thread.id).order_by(ForumPost.id)))
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_({p.author_id for p in posts})))}
    mine = dict(session.execute(select(ForumVote.post_id, ForumVote.value).where(
        ForumVote.user_id == m.user.id, ForumVote.post_id.in_([p.id for p in posts]))).all())
    read_up_to = session.scalar(select(ForumRead.last_post_id).where(
        ForumRead.user_id == m.user.id, ForumRead.thread_id == thread.id)) or 0
    lesson = session.get(Lesson, thread.lesson_id) if thread.lesson_id else None
    version = session.get(LessonVersion, thread.lesson_version_id) if thread.lesson_version_id else None
    may_accept = thread.kind == "question" and permissions.may_accept(m.user, m.course, thread.author_id) \
        and (m.staff or not thread.locked)
    views = {}
    for p in posts:
        views[p.id] = {"id": p.id, "parent": p.parent_id, "opening": p.opening, "html": p.html, "body": p.body,
                       "score": p.score, "my_vote": mine.get(p.id, 0), "endorsed": p.endorsed,
                       "accepted": p.id == thread.accepted_post_id, "new": p.id > read_up_to,
                       "created_at": _aware(p.created_at).isoformat(), **_author(p, users, m.user),
                       "can_vote": p.author_id != m.user.id and (m.staff or not thread.locked),
                       "can_accept": may_accept and not p.opening and p.parent_id is None,
                       "can_reveal": m.staff and p.anonymous and p.author_id != m.user.id,
                       "comments": []}
    answers = []
    for p in posts:
        if p.opening:
            continue
        if p.parent_id is not None and p.parent_id in views:
            views[p.parent_id]["comments"].append(views[p.id])
        else:
            answers.append(views[p.id])
    # the accepted answer first, then endorsed ones, then by votes, then oldest first
    answers.sort(key=lambda a: (not a["accepted"], not a["endorsed"], -a["score"], a["id"]))
    opening = next((views[p.id] for p in posts if p.opening), None)
    if mark_read and thread.last_post_id:
        _mark_read(session, m.user.id, thread.id, thread.last_post_id)
    return {"id": thread.id, "title": thread.title, "kind": thread.kind, "course": m.course.slug,
            "course_title": m.course.title, "lesson": lesson.key if lesson else None,
            "lesson_title": lesson.title if lesson else None,
            "lesson_version": version.number if version else None, "cell_id": thread.cell_id,
            "private": thread.private, "pinned": thread.pinned, "locked": thread.locked, "closed": thread.closed,
            "accepted_post": thread.accepted_post_id, "staff_answered": thread.staff_answered,
            "replies": thread.reply_count, "staff": m.staff, "may_accept": may_accept,
            "may_post": m.staff or not (thread.locked or thread.closed),
            "created_at": _aware(thread.created_at).isoformat(), "question": opening, "answers": answers}


def course_lessons(session: Session, user: User | None, slug: str) -> Member:
    """The course and the member's standing, for the Q&A pages' forms."""
    return member(session, user, slug)


def thread_of_post(session: Session, post_id: int) -> int:
    thread_id = session.scalar(select(ForumPost.thread_id).where(ForumPost.id == post_id))
    if thread_id is None:
        raise NotFound(f"no post {post_id}")
    return thread_id
