"""Course Q&A: threads, posts, votes (the forum of a course, anchored to lessons and notebook cells).

``services/forum.py`` is the one writer of these tables. Search uses ``forum_terms``, an
inverted index the service fills with the same tokeniser on SQLite and PostgreSQL, so both
answer a query with the same threads. Moderation (0028): duplicates, hidden posts, reports,
suspensions, and each member's notification level per thread and per course.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow

KINDS = ("question", "discussion")
# Discourse's notification levels: watching = told of every post; tracking = unread counts shown;
# normal = told only of replies to oneself and mentions; muted = told nothing, left out of lists
LEVELS = ("watching", "tracking", "normal", "muted")


class ForumThread(Base):
    __tablename__ = "forum_threads"
    # the list's order (pinned first, then last activity), read backwards from the course's end
    __table_args__ = (Index("ix_forum_threads_course_pinned_activity", "course_id", "pinned", "last_activity_at",
                            "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # question | discussion
    title: Mapped[str] = mapped_column(String(200))
    lesson_id: Mapped[int | None] = mapped_column(ForeignKey("lessons.id", ondelete="SET NULL"), nullable=True,
                                                  index=True)
    # the lesson version and notebook cell a question is about (cell ids of that version's notebook)
    lesson_version_id: Mapped[int | None] = mapped_column(ForeignKey("lesson_versions.id", ondelete="SET NULL"),
                                                          nullable=True)
    cell_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    private: Mapped[bool] = mapped_column(Boolean, default=False)  # the author and the course's staff only
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)  # only staff post, vote or accept
    closed: Mapped[bool] = mapped_column(Boolean, default=False)  # only staff post
    # the accepted answer (a reply in this thread); no foreign key: posts point at threads already
    accepted_post_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    staff_answered: Mapped[bool] = mapped_column(Boolean, default=False)
    reply_count: Mapped[int] = mapped_column(Integer, default=0)
    last_post_id: Mapped[int] = mapped_column(Integer, default=0)  # unread: above the reader's last seen
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_activity_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # marked by the staff as asking what another thread of the course asks (shown on both)
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("forum_threads.id", ondelete="SET NULL"),
                                                        nullable=True, index=True)
    # the opening post is hidden by the staff: the thread is gone for everyone but them and its author
    hidden: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class ForumPost(Base):
    """The opening post of a thread, a reply (``parent_id`` empty) or a comment on a reply."""

    __tablename__ = "forum_posts"

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("forum_threads.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("forum_posts.id", ondelete="CASCADE"), nullable=True)
    opening: Mapped[bool] = mapped_column(Boolean, default=False)
    body: Mapped[str] = mapped_column(Text)  # Markdown as written
    html: Mapped[str] = mapped_column(Text)  # rendered and sanitised (nh3)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)  # to classmates; staff may reveal
    endorsed: Mapped[bool] = mapped_column(Boolean, default=False)  # by the course's staff
    by_staff: Mapped[bool] = mapped_column(Boolean, default=False)  # the author was staff when posting
    score: Mapped[int] = mapped_column(Integer, default=0)  # sum of the votes
    mentions: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of mentioned members' user ids
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    # hidden by the staff: classmates see a stub, the staff see it greyed with the reason
    hidden_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    hidden_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    hidden_reason: Mapped[str] = mapped_column(String(500), default="", server_default="")


class ForumVote(Base):
    __tablename__ = "forum_votes"

    post_id: Mapped[int] = mapped_column(ForeignKey("forum_posts.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)  # 1 or -1


class ForumRead(Base):
    """How far a user has read a thread: posts with a higher id are unread."""

    __tablename__ = "forum_reads"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("forum_threads.id", ondelete="CASCADE"), primary_key=True)
    last_post_id: Mapped[int] = mapped_column(Integer, default=0)


class ForumTerm(Base):
    """The search index: each word of a post (the opening post carries the title's too)."""

    __tablename__ = "forum_terms"
    __table_args__ = (Index("ix_forum_terms_term_thread", "term", "thread_id"),)

    post_id: Mapped[int] = mapped_column(ForeignKey("forum_posts.id", ondelete="CASCADE"), primary_key=True)
    term: Mapped[str] = mapped_column(String(64), primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("forum_threads.id", ondelete="CASCADE"), index=True)


class ForumThreadLevel(Base):
    """A member's notification level for one thread (``LEVELS``). ``chosen``: set by the member;
    otherwise set for them (asking watches a thread, replying tracks it) and never over a choice."""

    __tablename__ = "forum_thread_levels"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("forum_threads.id", ondelete="CASCADE"), primary_key=True,
                                           index=True)
    level: Mapped[str] = mapped_column(String(16))
    chosen: Mapped[bool] = mapped_column(Boolean, default=False)


class ForumCourseLevel(Base):
    """A member's notification level for a whole course's Q&A: the default of its threads."""

    __tablename__ = "forum_course_levels"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True,
                                           index=True)
    level: Mapped[str] = mapped_column(String(16))


class ForumReport(Base):
    """A member's report of a post, waiting in the course's moderation queue until the staff
    hide the post or dismiss the reports (one report per member and post)."""

    __tablename__ = "forum_reports"
    __table_args__ = (UniqueConstraint("post_id", "reporter_id", name="uq_forum_reports_post_reporter"),
                      Index("ix_forum_reports_course_open", "course_id", "resolved_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("forum_posts.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    reporter_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    resolution: Mapped[str] = mapped_column(String(16), default="")  # hidden | dismissed


class ForumSuspension(Base):
    """A member barred from posting, voting and reporting in one course's Q&A until ``ends_at``
    (reading stays open); ``lifted_at`` ends it early."""

    __tablename__ = "forum_suspensions"
    __table_args__ = (Index("ix_forum_suspensions_course_user", "course_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    lifted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    lifted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
