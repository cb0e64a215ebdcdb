"""Direct messages between a course's students and its staff; blocks; the per-course switch that
lets students message each other.

The one writer of ``conversations``, ``conversation_members``, ``messages``, ``user_blocks`` and
``course_messaging_settings``.

How conversations are cut (what Ed Discussion and Open edX users expect): messages live in a
course. A student has **one conversation with the staff of each course** they are enrolled in
(Ed's private thread to staff, Canvas's course inbox): whichever staff member answers, the
student sees one thread, and every staff member of the course can read and answer it. Staff
open the same conversation from the roster. Between two students of a course there is one
conversation per pair, only while the course's staff allow it (off by default, a switch on the
course's messaging settings page). A user may block anyone: a blocked person cannot message
them, and they cannot message the blocked person until they unblock. Blocks concern messages
only; announcements and Q&A are not touched by them.

A message is Markdown, rendered and sanitised as forum posts are (``forum.render``), at most
``MAX_BODY_BYTES``. Each recipient is told with a ``message`` notification when they had read
everything before it, so a burst of messages makes one notice (and one email), not ten.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import permissions
from ..errors import Forbidden, InvalidInput, NotFound
from ..models import Course, Enrollment, User
from ..models.base import utcnow
from ..models.messages import (PEER, STAFF, Conversation, ConversationMember, CourseMessagingSettings, Message,
                               UserBlock)
from . import audit, catalog, forum, notifications, plaintext

MAX_BODY_BYTES = 20_000
MAX_NAME = 100
DEFAULT_LIMIT, MAX_LIMIT = 50, 200
MAX_ID = 2**31 - 1
STAFF_LABEL = "Course staff"


# ------------------------------------------------------------------ input
def check_body(raw) -> str:
    if raw is None:
        raw = ""
    if not isinstance(raw, str):
        raise InvalidInput("body must be text", field="body")
    body = raw.replace("\x00", "")
    if not body.strip():
        raise InvalidInput("Write something: the message is empty.", field="body")
    size = len(body.encode("utf-8"))
    if size > MAX_BODY_BYTES:
        raise InvalidInput(f"The message is {size:,} bytes; a message may be at most {MAX_BODY_BYTES // 1000} kB.",
                           field="body")
    return body


def render(body: str) -> str:
    """The forum's Markdown: highlighted code, raw HTML shown as text, nh3-sanitised."""
    return forum.render(body)


def _user_named(session: Session, name, what: str = "user") -> User:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(f"name the {what} (their username)", field="to")
    name = name.strip()
    found = (session.scalars(select(User).where(User.hub_name == name)).one_or_none()
             if len(name) <= MAX_NAME and "\x00" not in name else None)
    if found is None or found.deleted_at is not None:
        raise NotFound(f"there is no {what} {name[:MAX_NAME]!r}")
    return found


def name_of(user: User | None) -> str:
    return (user.display_name or user.hub_name) if user is not None else "Deleted user"


# ------------------------------------------------------------------ who may message whom
def _enrolled(session: Session, user_id: int, course_id: int) -> bool:
    return session.scalar(select(Enrollment.id).where(Enrollment.user_id == user_id,
                                                      Enrollment.course_id == course_id)) is not None


def students_may_message(session: Session, course_id: int) -> bool:
    return bool(session.scalar(select(CourseMessagingSettings.students_may_message)
                               .where(CourseMessagingSettings.course_id == course_id)))


def set_students_may_message(session: Session, user: User | None, slug: str, allowed) -> Course:
    """The course's staff turn student-to-student messages on or off (audited)."""
    if not isinstance(allowed, bool):
        raise InvalidInput("students_may_message must be true or false", field="students_may_message")
    course = catalog.get_course(session, slug, viewer=user)
    permissions.require_teacher(user, course, "only the course's instructor or an admin can change its messaging")
    row = session.get(CourseMessagingSettings, course.id)
    before = bool(row and row.students_may_message)
    if row is None:
        row = CourseMessagingSettings(course_id=course.id)
        session.add(row)
    row.students_may_message, row.updated_by_id, row.updated_at = allowed, user.id, utcnow()
    session.flush()
    if before != allowed:
        audit.record(session, user, "messages.settings", "course", course.slug,
                     before={"students_may_message": before}, after={"students_may_message": allowed},
                     summary=f"Student-to-student messages {'on' if allowed else 'off'} in {course.title}")
    return course


def course_settings(session: Session, user: User | None, slug: str) -> tuple[Course, bool]:
    """The course and whether its students may message each other (its staff ask)."""
    course = catalog.get_course(session, slug, viewer=user)
    permissions.require_teacher(user, course, "only the course's instructor or an admin can see its messaging settings")
    return course, students_may_message(session, course.id)


def blocked_ids(session: Session, blocker_id: int) -> set[int]:
    return set(session.scalars(select(UserBlock.blocked_id).where(UserBlock.blocker_id == blocker_id)))


def _blocks(session: Session, blocker_id: int, blocked_id: int) -> bool:
    return session.get(UserBlock, (blocker_id, blocked_id)) is not None


@dataclass
class Target:
    """Whom a new message in ``course`` goes to: the course's staff about ``student``, or ``peer``."""

    course: Course
    kind: str
    student: User
    peer: User | None
    sender_staff: bool

    @property
    def pair_key(self) -> str:
        if self.kind == STAFF:
            return f"staff:{self.course.id}:{self.student.id}"
        low, high = sorted((self.student.id, self.peer.id))
        return f"peer:{self.course.id}:{low}:{high}"

    @property
    def label(self) -> str:
        if self.kind == STAFF and not self.sender_staff:
            return f"{STAFF_LABEL} of {self.course.title}"
        return name_of(self.student if self.kind == STAFF else self.peer)


def target(session: Session, user: User | None, slug: str, to=None) -> Target:
    """Check that ``user`` may message ``to`` (a username; none: the course's staff) in ``slug``.

    A student writes to the staff of a course they are enrolled in, and to a classmate when the
    course allows it; staff write to an enrolled student. Anyone else is refused with a sentence
    saying why; a name that is no member of the course is "no student" (404), whether or not such
    an account exists elsewhere."""
    if user is None:
        raise Forbidden("log in to send messages")
    course = catalog.get_course(session, slug, viewer=user)
    staff = permissions.can_teach(user, course)
    enrolled = _enrolled(session, user.id, course.id)
    if not staff and not enrolled:
        raise Forbidden(f"you can message the staff of {course.title!r} once you are enrolled in it")
    if to is None or (isinstance(to, str) and to.strip() in ("", "staff")):
        if staff:
            raise InvalidInput("name the student to message (their username)", field="to")
        return Target(course, STAFF, user, None, False)
    if not isinstance(to, str):
        raise InvalidInput("to must be a username", field="to")
    to = to.strip()
    if to == user.hub_name:
        raise InvalidInput("you cannot send a message to yourself", field="to")
    recipient = (session.scalars(select(User).where(User.hub_name == to)).one_or_none()
                 if len(to) <= MAX_NAME and "\x00" not in to else None)
    live = recipient is not None and recipient.deleted_at is None
    if live and permissions.can_teach(recipient, course) and not staff:
        return Target(course, STAFF, user, None, False)  # a student naming the instructor writes to the staff
    if not live or not _enrolled(session, recipient.id, course.id):
        raise NotFound(f"{course.title!r} has no student {to[:MAX_NAME]!r}")
    if staff:
        return Target(course, STAFF, recipient, None, True)
    if not students_may_message(session, course.id):
        raise Forbidden(f"students of {course.title!r} cannot message each other: its staff have not turned "
                        "student-to-student messages on. You can still message the course's staff.")
    return Target(course, PEER, user, recipient, False)


def existing(session: Session, t: Target) -> Conversation | None:
    return session.scalars(select(Conversation).where(Conversation.pair_key == t.pair_key)).one_or_none()


# ------------------------------------------------------------------ conversations
@dataclass
class Access:
    conversation: Conversation
    course: Course
    staff: bool  # the viewer teaches the course


def _access(session: Session, user: User | None, conversation_id) -> Access:
    """The conversation if ``user`` takes part: its student or peer, or the course's staff for a
    conversation with staff. For anyone else it does not exist (404), as with forged ids."""
    if not isinstance(conversation_id, int) or isinstance(conversation_id, bool) or not 0 < conversation_id <= MAX_ID:
        raise NotFound(f"no conversation {str(conversation_id)[:30]}")
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or user is None:
        raise NotFound(f"no conversation {conversation_id}")
    course = session.get(Course, conversation.course_id)
    staff = permissions.can_teach(user, course)
    if conversation.kind == STAFF:
        allowed = user.id == conversation.student_id or staff
    else:
        allowed = user.id in (conversation.student_id, conversation.peer_id)
    if not allowed:
        raise NotFound(f"no conversation {conversation_id}")
    return Access(conversation, course, staff and user.id != conversation.student_id)


def _principals(session: Session, a: Access, author: User) -> list[int]:
    """The people a message of ``author`` is addressed to (whose blocks refuse it)."""
    c = a.conversation
    if c.kind == PEER:
        return [c.peer_id if author.id == c.student_id else c.student_id]
    if author.id == c.student_id:
        teacher = a.course.instructor.user_id if a.course.instructor is not None else None
        return [teacher] if teacher is not None else []
    return [c.student_id]


def _may_post(session: Session, a: Access, author: User) -> None:
    c, course = a.conversation, a.course
    if c.kind == STAFF:
        if not _enrolled(session, c.student_id, course.id):
            if author.id == c.student_id:
                raise Forbidden(f"you are no longer enrolled in {course.title!r}: this conversation is read-only")
            raise Forbidden(f"{name_of(session.get(User, c.student_id))} is no longer enrolled in "
                            f"{course.title!r}: this conversation is read-only")
    else:
        other = session.get(User, c.peer_id if author.id == c.student_id else c.student_id)
        if other is None or other.deleted_at is not None or not _enrolled(session, other.id, course.id) \
                or not _enrolled(session, author.id, course.id):
            raise Forbidden(f"you and {name_of(other)} are no longer both students of {course.title!r}: "
                            "this conversation is read-only")
        if not students_may_message(session, course.id):
            raise Forbidden(f"the staff of {course.title!r} have turned student-to-student messages off: "
                            "this conversation is read-only")
    for uid in _principals(session, a, author):
        if _blocks(session, author.id, uid):
            raise Forbidden(f"you have blocked {name_of(session.get(User, uid))}: unblock them to send a message")
        if _blocks(session, uid, author.id):
            raise Forbidden(f"you cannot message {name_of(session.get(User, uid))}: they have blocked messages "
                            "from you")


def _ensure_member(session: Session, conversation_id: int, user_id: int) -> ConversationMember:
    row = session.get(ConversationMember, (conversation_id, user_id))
    if row is None:
        row = ConversationMember(conversation_id=conversation_id, user_id=user_id, last_read_id=0)
        session.add(row)
        session.flush()
    return row


def _members(session: Session, conversation_id: int) -> list[ConversationMember]:
    return list(session.scalars(select(ConversationMember).where(ConversationMember.conversation_id == conversation_id)))


def _excerpt(html: str, limit: int = 300) -> str:
    """The start of a message as plain text (from its sanitised HTML: no Markdown marks)."""
    return plaintext.excerpt(html, limit)


def _add_message(session: Session, a: Access, author: User, body: str, now: datetime) -> Message:
    c = a.conversation
    _may_post(session, a, author)
    previous = c.last_message_id
    message = Message(conversation_id=c.id, author_id=author.id, body=body, html=render(body),
                      by_staff=permissions.can_teach(author, a.course) and author.id != c.student_id, created_at=now)
    session.add(message)
    session.flush()
    c.last_message_id, c.last_message_at = message.id, now
    _ensure_member(session, c.id, author.id).last_read_id = message.id
    if c.kind == STAFF and a.course.instructor is not None:
        _ensure_member(session, c.id, a.course.instructor.user_id)  # a new instructor joins the student's thread
    members = [m for m in _members(session, c.id) if m.user_id != author.id]
    caught_up = [m.user_id for m in members if m.last_read_id >= previous]
    refusing = set(session.scalars(select(UserBlock.blocker_id).where(
        UserBlock.blocked_id == author.id, UserBlock.blocker_id.in_(caught_up)))) if caught_up else set()
    told = [uid for uid in caught_up if uid not in refusing]
    where = f" ({a.course.title})"
    notifications.notify(session, user_ids=told, kind="message", actor_id=author.id, url=f"messages/{c.id}",
                         title=f"{name_of(author)} sent you a message{where}", body=_excerpt(message.html),
                         dedupe_key=f"message:{message.id}")
    return message


def start(session: Session, user: User | None, slug: str, *, to=None, body, now: datetime | None = None
          ) -> tuple[Conversation, Message]:
    """Send a message to ``to`` in ``slug`` (``target`` says who may), in the pair's one
    conversation: made now if it is the first."""
    t = target(session, user, slug, to)
    body = check_body(body)
    now = now or utcnow()
    conversation = existing(session, t)
    if conversation is None:
        try:
            with session.begin_nested():
                conversation = Conversation(course_id=t.course.id, kind=t.kind, student_id=t.student.id,
                                            peer_id=t.peer.id if t.peer is not None else None, pair_key=t.pair_key,
                                            last_message_id=0, last_message_at=now, created_at=now)
                session.add(conversation)
                session.flush()
        except IntegrityError:  # the same pair's first message from another request landed first
            conversation = existing(session, t)
        else:
            for uid in (t.student.id, t.peer.id if t.peer is not None else None, user.id):
                if uid is not None:
                    _ensure_member(session, conversation.id, uid)
    a = Access(conversation, t.course, t.sender_staff)
    return conversation, _add_message(session, a, user, body, now)


def post(session: Session, user: User | None, conversation_id: int, body, now: datetime | None = None) -> Message:
    a = _access(session, user, conversation_id)
    return _add_message(session, a, user, check_body(body), now or utcnow())


def _title(session: Session, a: Access, viewer: User, users: dict[int, User]) -> str:
    c = a.conversation
    if c.kind == PEER:
        return name_of(users.get(c.peer_id if viewer.id == c.student_id else c.student_id))
    if viewer.id == c.student_id:
        return f"{STAFF_LABEL} of {a.course.title}"
    return name_of(users.get(c.student_id))


def _users(session: Session, ids) -> dict[int, User]:
    ids = {i for i in ids if i}
    return {u.id: u for u in session.scalars(select(User).where(User.id.in_(ids)))} if ids else {}


def view(session: Session, user: User | None, conversation_id: int, *, before: int | None = None,
         limit: int = DEFAULT_LIMIT, mark_read: bool = True) -> dict:
    """A conversation and a page of its messages (oldest first; ``before``: older ones). Reading
    the newest page marks it read for a member."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}")
    a = _access(session, user, conversation_id)
    c = a.conversation
    query = select(Message).where(Message.conversation_id == c.id)
    if before is not None:
        query = query.where(Message.id < min(before, MAX_ID))
    rows = list(session.scalars(query.order_by(Message.id.desc()).limit(limit + 1)))
    older = len(rows) > limit
    rows = list(reversed(rows[:limit]))
    people = _users(session, [m.author_id for m in rows] + [c.student_id, c.peer_id])
    member = session.get(ConversationMember, (c.id, user.id))
    last_read = member.last_read_id if member is not None else c.last_message_id
    if mark_read and member is not None and before is None and member.last_read_id < c.last_message_id:
        member.last_read_id = c.last_message_id
        session.flush()
    try:
        _may_post(session, a, user)
        may_post, why_not = True, None
    except Forbidden as exc:
        may_post, why_not = False, exc.message
    others = [uid for uid in ([c.student_id, c.peer_id] if c.kind == PEER else [c.student_id]) if uid != user.id]
    if c.kind == STAFF and user.id == c.student_id and a.course.instructor is not None:
        others.append(a.course.instructor.user_id)
    people.update(_users(session, [o for o in others if o not in people]))
    mine = blocked_ids(session, user.id)
    return {
        "id": c.id, "kind": c.kind, "course": a.course.slug, "course_title": a.course.title,
        "title": _title(session, a, user, people), "staff": a.staff,
        "student": people[c.student_id].hub_name if c.student_id in people else None,
        "may_post": may_post, "read_only_reason": why_not,
        "people": [{"username": people[o].hub_name, "name": name_of(people[o]), "blocked": o in mine}
                   for o in others if o in people and people[o].deleted_at is None],
        "messages": [{"id": m.id, "author": name_of(people.get(m.author_id)),
                      "username": people[m.author_id].hub_name if m.author_id in people else None,
                      "mine": m.author_id == user.id, "staff": m.by_staff, "html": m.html, "body": m.body,
                      "unread": m.id > last_read and m.author_id != user.id,
                      "created_at": m.created_at.isoformat()} for m in rows],
        "older_before": rows[0].id if older and rows else None,
    }


def inbox(session: Session, user: User, *, limit: int = DEFAULT_LIMIT, offset: int = 0) -> dict:
    """The user's conversations, latest activity first, each with its unread count."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}")
    if offset < 0:
        raise InvalidInput("offset must be 0 or more")
    base = (select(Conversation, ConversationMember.last_read_id).join(ConversationMember, and_(
        ConversationMember.conversation_id == Conversation.id, ConversationMember.user_id == user.id)))
    total = session.scalar(select(func.count()).select_from(ConversationMember)
                           .where(ConversationMember.user_id == user.id)) or 0
    page = session.execute(base.order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
                           .offset(offset).limit(limit)).all()
    # unread counts of this page's conversations only (not of every conversation before sorting)
    counts: dict[int, int] = {}
    unread_of_page = [(conv.id, last_read) for conv, last_read in page if conv.last_message_id > last_read]
    if unread_of_page:
        counts = dict(session.execute(
            select(Message.conversation_id, func.count(Message.id))
            .where(or_(*[and_(Message.conversation_id == cid, Message.id > last_read)
                         for cid, last_read in unread_of_page]), Message.author_id != user.id)
            .group_by(Message.conversation_id)).all())
    rows = [(conv, counts.get(conv.id, 0)) for conv, _ in page]
    courses = {c.id: c for c in session.scalars(select(Course).where(
        Course.id.in_({conv.course_id for conv, _ in rows})))} if rows else {}
    lasts = {m.id: m for m in session.scalars(select(Message).where(
        Message.id.in_({conv.last_message_id for conv, _ in rows})))} if rows else {}
    people = _users(session, [conv.student_id for conv, _ in rows] + [conv.peer_id for conv, _ in rows]
                    + [m.author_id for m in lasts.values()])
    items = []
    for conv, count in rows:
        course = courses[conv.course_id]
        a = Access(conv, course, permissions.can_teach(user, course) and user.id != conv.student_id)
        last = lasts.get(conv.last_message_id)
        items.append({"id": conv.id, "kind": conv.kind, "course": course.slug, "course_title": course.title,
                      "title": _title(session, a, user, people), "unread": int(count or 0),
                      "last_message": _excerpt(last.html, 140) if last else "",
                      "last_author": ("You" if last.author_id == user.id else name_of(people.get(last.author_id)))
                      if last else None,
                      "last_message_at": conv.last_message_at.isoformat()})
    return {"conversations": items, "total": total, "offset": offset, "limit": limit,
            "unread": unread_total(session, user.id)}


def unread_total(session: Session, user_id: int) -> int:
    """Unread messages of every conversation in the user's inbox (the header's count)."""
    return session.scalar(select(func.count(Message.id)).join(ConversationMember, and_(
        ConversationMember.conversation_id == Message.conversation_id, ConversationMember.user_id == user_id))
        .where(Message.id > ConversationMember.last_read_id, Message.author_id != user_id)) or 0


def mark_read(session: Session, user: User | None, conversation_id: int, up_to=None) -> int:
    """Mark a conversation read up to ``up_to`` (a message id; none: all of it); its unread left."""
    a = _access(session, user, conversation_id)
    c = a.conversation
    if up_to is not None and (not isinstance(up_to, int) or isinstance(up_to, bool)):
        raise InvalidInput("up_to must be a message id", field="up_to")
    member = _ensure_member(session, c.id, user.id)
    mark = c.last_message_id if up_to is None else max(0, min(up_to, c.last_message_id))
    if member.last_read_id < mark:
        member.last_read_id = mark
        session.flush()
    return session.scalar(select(func.count(Message.id)).where(
        Message.conversation_id == c.id, Message.id > member.last_read_id, Message.author_id != user.id)) or 0


# ------------------------------------------------------------------ blocks
def block(session: Session, user: User, name) -> User:
    other = _user_named(session, name)
    if other.id == user.id:
        raise InvalidInput("you cannot block yourself", field="username")
    if not _blocks(session, user.id, other.id):
        try:
            with session.begin_nested():
                session.add(UserBlock(blocker_id=user.id, blocked_id=other.id, created_at=utcnow()))
                session.flush()
        except IntegrityError:  # the same block from another request
            pass
    return other


def unblock(session: Session, user: User, name) -> User:
    other = _user_named(session, name)
    session.execute(delete(UserBlock).where(UserBlock.blocker_id == user.id, UserBlock.blocked_id == other.id))
    return other


def blocked(session: Session, user: User) -> list[dict]:
    rows = session.execute(select(User, UserBlock.created_at).join(UserBlock, UserBlock.blocked_id == User.id)
                           .where(UserBlock.blocker_id == user.id).order_by(UserBlock.created_at.desc())).all()
    return [{"username": u.hub_name, "name": name_of(u), "since": when.isoformat()} for u, when in rows]
