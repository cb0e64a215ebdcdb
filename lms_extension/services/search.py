"""Full-text course search: one interface, a SQLite FTS5 and a PostgreSQL tsvector backend.

Both backends must give the same answers, so everything that decides an answer happens here
in Python, identically for both:

- text is normalized before it reaches either index (lower case, accents stripped, words of
  letters and digits joined by single spaces), so FTS5's ``unicode61`` tokenizer and
  PostgreSQL's ``simple`` configuration see the same words;
- typos are corrected against the index's own vocabulary (``search_terms``) before the query
  runs: a word the index does not know becomes the known word closest to it by edit
  distance (ties: the more common word), or a prefix when some word starts with it;
- the backends only answer "which courses contain these words (in this field)"; relevance is
  an integer sum of field weights over (word, field) hits, ties broken by course id, so it is
  the same number on both databases. Only published courses are indexed.

User text never reaches the index's query syntax: words are ``[^\\W_]+`` after normalizing,
so quotes, ``*``, ``NEAR(``, ``:`` or ``&`` are separators, not operators.
"""
from __future__ import annotations

import bisect
import re
import threading
import time
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Iterable

from sqlalchemy import Integer, delete, select, text, update
from sqlalchemy.orm import Session

from ..config import LMSConfig
from ..models import Course, Instructor, Lesson, User
from ..models.base import utcnow
from ..models.discovery import SearchDocument, SearchTerm

FIELDS = ("title", "subtitle", "description", "lessons", "instructor")
# relevance weight of a query word found in each field
WEIGHTS = {"title": 8, "subtitle": 4, "instructor": 3, "lessons": 2, "description": 1}
MAX_QUERY_WORDS = 8
MAX_WORD = 64
MAX_FIELD_WORDS = 4000
# fields whose hits rank a course; the description only decides whether it matches
RANKED_FIELDS = ("title", "subtitle", "instructor", "lessons")
MAX_RANKED_WORDS = 4
STOPWORDS = frozenset("a an and are as at be by for from how in into is it of on or the to with your you".split())
_WORD = re.compile(r"[^\W_]+")


def words(text: str | None) -> list[str]:
    """The words of ``text`` as both indexes store them."""
    if not text:
        return []
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch)).lower()
    return [w for w in _WORD.findall(folded) if len(w) <= MAX_WORD]


def normalize(text: str | None, limit: int = MAX_FIELD_WORDS) -> str:
    return " ".join(words(text)[:limit])


# --------------------------------------------------------------------------- spelling
def _trigrams(word: str) -> set[str]:
    padded = f"^{word}$"
    return {padded[i:i + 3] for i in range(len(padded) - 2)}


def edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance (a swap of neighbours counts 1), capped at limit + 1."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2, prev = None, list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


class Vocabulary:
    """The index's words with their document counts, for typo correction and prefixes."""

    def __init__(self, counts: dict[str, int]):
        self.counts = counts
        self.sorted = sorted(counts)
        self.grams: dict[str, list[str]] = defaultdict(list)
        for term in counts:
            for gram in _trigrams(term):
                self.grams[gram].append(term)

    def __contains__(self, word: str) -> bool:
        return word in self.counts

    def has_prefix(self, prefix: str) -> bool:
        i = bisect.bisect_left(self.sorted, prefix)
        return i < len(self.sorted) and self.sorted[i].startswith(prefix)

    def correct(self, word: str) -> str | None:
        if len(word) < 4 or not word.isalpha():
            return None
        limit = 1 if len(word) <= 5 else 2
        shared: Counter[str] = Counter()
        for gram in _trigrams(word):
            for term in self.grams.get(gram, ()):
                if abs(len(term) - len(word)) <= limit:
                    shared[term] += 1
        best = None
        for term, _ in sorted(shared.items(), key=lambda kv: (-kv[1], kv[0]))[:64]:
            d = edit_distance(word, term, limit)
            if d <= limit:
                key = (d, -self.counts[term], term)
                best = key if best is None or key < best else best
        return best[2] if best else None


# bumped by every index write in this process; every VocabularyCache drops what it read before
_written = [0]
_written_lock = threading.Lock()


class VocabularyCache:
    """Per-database vocabulary kept for ``ttl`` seconds; writes in this process drop it.
    The service builds its own at start-up (``search_vocabulary_seconds``) and hands it to
    ``plan``; ``vocabulary_cache`` serves callers that have none."""

    def __init__(self, ttl: float = LMSConfig.search_vocabulary_seconds.default_value):
        self.ttl = ttl
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, int, Vocabulary]] = {}

    @property
    def generation(self) -> int:
        return _written[0]

    def get(self, session: Session) -> Vocabulary:
        key = str(session.get_bind().engine.url)
        now = time.monotonic()
        hit = self._entries.get(key)
        if hit and hit[0] > now and hit[1] == self.generation:
            return hit[2]
        generation = self.generation
        vocab = Vocabulary(dict(session.execute(select(SearchTerm.term, SearchTerm.doc_count)).all()))
        with self._lock:
            self._entries[key] = (now + self.ttl, generation, vocab)
        return vocab

    def invalidate(self) -> None:
        with _written_lock:
            _written[0] += 1


vocabulary_cache = VocabularyCache()


# --------------------------------------------------------------------------- backends
@dataclass(frozen=True)
class Term:
    word: str
    prefix: bool = False


class SearchBackend:
    """Writes the dialect's full-text index and answers "which courses contain these words"."""

    name = "abstract"

    def write(self, session: Session, rows: list[dict]) -> None:
        raise NotImplementedError

    def delete(self, session: Session, course_ids: list[int] | None) -> None:
        raise NotImplementedError

    def matching(self, terms: Iterable[Term], field: str | None, key: str):
        """A SELECT of ``course_id`` for courses containing every term (in ``field`` if given)."""
        raise NotImplementedError

    def field_scores(self, session: Session, terms: list[Term]) -> dict[int, int]:
        """Course id -> sum of WEIGHTS[field] over (term, ranked field) pairs where the field holds
        the term; courses with no such pair are left out. One lookup per pair by default."""
        scores: dict[int, int] = defaultdict(int)
        conn = session.connection()
        for i, term in enumerate(terms):
            for field in RANKED_FIELDS:
                for course_id in conn.execute(self.matching([term], field, f"fts_{i}_{field}")).scalars().all():
                    scores[course_id] += WEIGHTS[field]
        return scores


class SQLiteFTS5Backend(SearchBackend):
    name = "sqlite-fts5"

    def write(self, session, rows):
        if not rows:
            return
        self.delete(session, [r["course_id"] for r in rows])
        session.execute(text("INSERT INTO search_fts (rowid, " + ", ".join(FIELDS) + ") VALUES (:course_id, "
                             + ", ".join(f":{f}" for f in FIELDS) + ")"), rows)

    def delete(self, session, course_ids):
        if course_ids is None:
            session.execute(text("DELETE FROM search_fts"))
            return
        for start in range(0, len(course_ids), 500):
            chunk = course_ids[start:start + 500]
            session.execute(text("DELETE FROM search_fts WHERE rowid IN (" + ",".join(str(int(c)) for c in chunk) + ")"))

    def matching(self, terms, field, key):
        expr = " AND ".join(f'"{t.word}"' + ("*" if t.prefix else "") for t in terms)
        if field:
            expr = f"{{{field}}} : ({expr})"
        return text(f"SELECT rowid AS course_id FROM search_fts WHERE search_fts MATCH :{key}") \
            .bindparams(**{key: expr}).columns(course_id=Integer)


class PostgresBackend(SearchBackend):
    name = "postgresql-tsvector"

    def write(self, session, rows):
        if not rows:
            return
        self.delete(session, [r["course_id"] for r in rows])
        # positions stripped: nothing here asks for phrases or proximity, and small vectors
        # make every @@ check (and the GIN recheck) cheaper
        vectors = ", ".join(f"strip(to_tsvector('simple', :{f}))" for f in FIELDS)
        document = "strip(to_tsvector('simple', " + " || ' ' || ".join(f":{f}" for f in FIELDS) + "))"
        session.execute(text(f"INSERT INTO search_index (course_id, {', '.join(FIELDS)}, document) "
                             f"VALUES (:course_id, {vectors}, {document})"), rows)

    def delete(self, session, course_ids):
        if course_ids is None:
            session.execute(text("DELETE FROM search_index"))
            return
        session.execute(text("DELETE FROM search_index WHERE course_id = ANY(:ids)"), {"ids": list(course_ids)})

    @staticmethod
    def _tsquery(terms) -> str:
        return " & ".join(f"'{t.word}'" + (":*" if t.prefix else "") for t in terms)

    def matching(self, terms, field, key):
        column = field or "document"
        return text(f"SELECT course_id FROM search_index WHERE {column} @@ to_tsquery('simple', :{key})") \
            .bindparams(**{key: self._tsquery(terms)}).columns(course_id=Integer)

    def field_scores(self, session, terms):
        # one round trip: the GIN indexes of the fields answer an OR (bitmap), the sum is integers
        params = {f"q{i}": self._tsquery([t]) for i, t in enumerate(terms)}
        hits = [(f"{f} @@ to_tsquery('simple', :q{i})", WEIGHTS[f]) for i in range(len(terms)) for f in RANKED_FIELDS]
        score = " + ".join(f"(CASE WHEN {cond} THEN {w} ELSE 0 END)" for cond, w in hits)
        where = " OR ".join(cond for cond, _ in hits)
        rows = session.connection().execute(text(f"SELECT course_id, {score} FROM search_index WHERE {where}"), params)
        return dict(rows.all())


def backend_for(session: Session) -> SearchBackend:
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        return SQLiteFTS5Backend()
    if dialect == "postgresql":
        return PostgresBackend()
    raise RuntimeError(f"no search backend for {dialect}")


# --------------------------------------------------------------------------- indexing
def _document_rows(session: Session, course_ids: list[int] | None) -> list[dict]:
    # only published courses are searchable: the index holds nothing else
    stmt = select(Course.id, Course.title, Course.subtitle, Course.description, User.display_name, User.hub_name) \
        .outerjoin(Instructor, Instructor.id == Course.instructor_id).outerjoin(User, User.id == Instructor.user_id) \
        .where(Course.published.is_(True))
    lessons_stmt = select(Lesson.course_id, Lesson.title).order_by(Lesson.course_id, Lesson.position)
    if course_ids is not None:
        stmt = stmt.where(Course.id.in_(course_ids))
        lessons_stmt = lessons_stmt.where(Lesson.course_id.in_(course_ids))
    lesson_titles: dict[int, list[str]] = defaultdict(list)
    for course_id, title in session.execute(lessons_stmt):
        lesson_titles[course_id].append(title)
    rows = []
    for cid, title, subtitle, description, display, hub_name in session.execute(stmt):
        rows.append({
            "course_id": cid, "title": normalize(title), "subtitle": normalize(subtitle),
            "description": normalize(description), "lessons": normalize(" ".join(lesson_titles.get(cid, []))),
            "instructor": normalize(" ".join(dict.fromkeys(filter(None, (display, hub_name))))),
        })
    return rows


def _spelling_terms(row: dict) -> set[str]:
    return {w for f in FIELDS for w in row[f].split() if 3 <= len(w) <= MAX_WORD and w.isalpha()}


def _adjust_terms(session: Session, delta: Counter) -> None:
    changed = {t: d for t, d in delta.items() if d}
    if not changed:
        return
    existing = dict(session.execute(select(SearchTerm.term, SearchTerm.doc_count)
                                    .where(SearchTerm.term.in_(list(changed)))).all())
    for term, d in changed.items():
        if term in existing:
            if existing[term] + d <= 0:
                session.execute(delete(SearchTerm).where(SearchTerm.term == term))
            else:
                session.execute(update(SearchTerm).where(SearchTerm.term == term)
                                .values(doc_count=SearchTerm.doc_count + d))
        elif d > 0:
            session.add(SearchTerm(term=term, doc_count=d))
    session.flush()


def index_courses(session: Session, course_ids: list[int]) -> None:
    """(Re)index these courses; call after courses, their lessons or instructors change."""
    if not course_ids:
        return
    session.flush()
    rows = _document_rows(session, course_ids)
    old = {d.course_id: d for d in session.scalars(select(SearchDocument).where(SearchDocument.course_id.in_(course_ids)))}
    delta: Counter = Counter()
    for doc in old.values():
        delta.subtract(_spelling_terms({f: getattr(doc, f) for f in FIELDS}))
    for row in rows:
        delta.update(_spelling_terms(row))
        doc = old.get(row["course_id"]) or SearchDocument(course_id=row["course_id"])
        for f in FIELDS:
            setattr(doc, f, row[f])
        doc.indexed_at = utcnow()
        session.add(doc)
    indexed = {row["course_id"] for row in rows}
    for course_id, doc in old.items():
        if course_id not in indexed:  # unpublished (or gone): out of the index
            session.delete(doc)
    session.flush()
    _adjust_terms(session, delta)
    backend = backend_for(session)
    backend.delete(session, list(course_ids))
    backend.write(session, rows)
    vocabulary_cache.invalidate()


def index_course(session: Session, course: Course) -> None:
    index_courses(session, [course.id])


def reindex_all(session: Session, batch: int = 2000) -> int:
    """Rebuild the whole index (after bulk loads); returns the number of courses indexed."""
    backend = backend_for(session)
    backend.delete(session, None)
    session.execute(delete(SearchDocument))
    session.execute(delete(SearchTerm))
    ids = list(session.scalars(select(Course.id).order_by(Course.id)))
    counts: Counter = Counter()
    now = utcnow()
    for start in range(0, len(ids), batch):
        rows = _document_rows(session, ids[start:start + batch])
        for row in rows:
            counts.update(_spelling_terms(row))
        session.execute(SearchDocument.__table__.insert(), [{**r, "indexed_at": now} for r in rows])
        backend.write(session, rows)
    terms = [{"term": t, "doc_count": c} for t, c in counts.items()]
    for start in range(0, len(terms), 5000):
        session.execute(SearchTerm.__table__.insert(), terms[start:start + 5000])
    vocabulary_cache.invalidate()
    return len(ids)


# --------------------------------------------------------------------------- querying
@dataclass(frozen=True)
class SearchPlan:
    terms: tuple[Term, ...]
    # the query as searched when a word was corrected, for "showing results for ..."
    corrected: str | None = None

    @property
    def empty(self) -> bool:
        return not self.terms


def plan(session: Session, q: str, vocabulary: VocabularyCache | None = None) -> SearchPlan:
    raw = words(q)
    if not raw:
        return SearchPlan(())
    kept = [w for w in raw if w not in STOPWORDS] or raw
    kept = list(dict.fromkeys(kept))[:MAX_QUERY_WORDS]
    vocab = (vocabulary or vocabulary_cache).get(session)
    terms, changed = [], False
    for word in kept:
        if word in vocab or not word.isalpha():
            terms.append(Term(word))
        elif len(word) >= 3 and vocab.has_prefix(word):
            terms.append(Term(word, prefix=True))
        else:
            fixed = vocab.correct(word)
            terms.append(Term(fixed or word))
            changed = changed or bool(fixed)
    corrected = " ".join(t.word for t in terms) if changed else None
    return SearchPlan(tuple(terms), corrected)




def restrict(session: Session, stmt, search: SearchPlan):
    """Restrict a select over ``Course`` to courses holding every query word (the dialect's index)."""
    return stmt.where(Course.id.in_(backend_for(session).matching(search.terms, None, "fts_all")))


def relevance_scores(session: Session, search: SearchPlan) -> dict[int, int]:
    """Course id -> relevance: for each query word and ranked field, the field's weight when the
    field holds the word (courses missing from the answer score 0). The dialect's index answers
    which fields hold which word; the weights are integers summed the same way on both
    databases, so both rank alike."""
    return backend_for(session).field_scores(session, list(search.terms[:MAX_RANKED_WORDS]))


def matching_ids(session: Session, search: SearchPlan) -> list[int]:
    """Ids of the (published) courses holding every query word, ascending: the index alone."""
    sub = backend_for(session).matching(search.terms, None, "fts_all").subquery()
    return session.connection().execute(select(sub.c.course_id).order_by(sub.c.course_id)).scalars().all()


def rank(session: Session, search: SearchPlan, candidate_ids: list[int]) -> list[int]:
    """Candidates by relevance, best first; ties keep their given order."""
    scores = relevance_scores(session, search)
    if not scores:
        return list(candidate_ids)
    get = scores.get
    return sorted(candidate_ids, key=lambda cid: -get(cid, 0))


def search_course_ids(session: Session, q: str, limit: int = 20) -> list[int]:
    """Course ids by relevance (then id): the core of every search, for tests and tools."""
    search = plan(session, q)
    if search.empty:
        return []
    stmt = restrict(session, select(Course.id).where(Course.published.is_(True)), search)
    return rank(session, search, list(session.scalars(stmt.order_by(Course.id))))[:limit]


__all__ = ["FIELDS", "SearchBackend", "SQLiteFTS5Backend", "PostgresBackend", "Vocabulary", "backend_for",
           "index_course", "index_courses", "reindex_all", "plan", "restrict", "matching_ids", "rank", "relevance_scores", "search_course_ids",
           "words", "normalize"]
