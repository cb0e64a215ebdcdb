"""Discovery fixtures: courses with real titles and text, imported through the product's importer."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import _database, own_engine
from tests.sandbox.sandbox_helpers import ServerThread

from lms_extension.config import LMSConfig
from lms_extension.db import make_engine, upgrade
from lms_extension.services.course_import import import_course, load_course_folder
from lms_extension.services.users import ensure_user
from lms_extension.web.app import make_app
from tests.factories import MINIMAL_NOTEBOOK

# (slug, title, subtitle, description, category, level, language, price, instructor, lesson titles)
CORPUS = [
    ("pandas-basics", "Data analysis with pandas", "DataFrames from zero", "Load CSV files, clean and group data.",
     "Data Science", "beginner", "en", 0, "wes", ["Series and DataFrames", "Grouping"]),
    ("ml-intro", "Machine learning fundamentals", "Regression and classification",
     "Train models with scikit-learn and evaluate them.", "Machine Learning", "intermediate", "en", 4900, "andrew",
     ["Linear regression", "Decision trees"]),
    ("algo-graphs", "Graph algorithms", "Shortest paths and spanning trees", "Dijkstra, BFS, DFS and more.",
     "Algorithms", "advanced", "en", 2900, "edsger", ["Breadth first search", "Dijkstra"]),
    ("python-start", "Python for beginners", "Your first programs", "Variables, loops, functions.",
     "Programming", "beginner", "en", 0, "guido", ["Hello world", "Loops"]),
    ("python-avance", "Python avancé", "Décorateurs et générateurs", "Cours en français sur Python.",
     "Programming", "advanced", "fr", 1900, "guido", ["Générateurs", "Décorateurs"]),
    ("stats-bayes", "Bayesian statistics", "Priors and posteriors", "Probabilistic thinking with PyMC and pandas.",
     "Statistics", "intermediate", "en", 7900, "thomas", ["Bayes rule", "Markov chain Monte Carlo"]),
    ("web-apis", "Web APIs with Tornado", "Async HTTP services", "Build REST services in Python.",
     "Web", "intermediate", "en", 2900, "ben", ["Handlers", "Websockets"]),
    ("sql-db", "Databases and SQL", "Queries, joins, indexes", "Relational databases with SQLite and PostgreSQL.",
     "Data Science", "beginner", "en", 1900, "edgar", ["Select queries", "Joins"]),
]


def write_course_folder(root: Path, slug, title, subtitle, description, category, level, language, price,
                        instructor, lesson_titles, preview_first=True) -> Path:
    folder = root / slug
    (folder / "lessons").mkdir(parents=True, exist_ok=True)
    parts = [f"slug = {json.dumps(slug)}\ntitle = {json.dumps(title)}\nsubtitle = {json.dumps(subtitle)}\n"
             f"description = {json.dumps(description)}\ncategory = {json.dumps(category)}\nlevel = \"{level}\"\n"
             f"language = \"{language}\"\nprice_cents = {price}\ncurrency = \"usd\"\ninstructor = \"{instructor}\"\n"]
    for i, lt in enumerate(lesson_titles, 1):
        (folder / "lessons" / f"l{i}.ipynb").write_text(json.dumps(MINIMAL_NOTEBOOK))
        parts.append(f"[[lessons]]\nid = \"l{i}\"\ntitle = {json.dumps(lt)}\nnotebook = \"lessons/l{i}.ipynb\"\n"
                     f"free_preview = {'true' if (i == 1 and preview_first) else 'false'}\n")
    (folder / "course.toml").write_text("\n".join(parts))
    return folder


def import_row(session, root: Path, row, **overrides):
    values = dict(zip(("slug", "title", "subtitle", "description", "category", "level", "language", "price",
                       "instructor", "lesson_titles"), row))
    values.update(overrides)
    return import_course(session, load_course_folder(write_course_folder(root, **values)))


def load_corpus(session, root: Path) -> dict:
    for row in CORPUS:
        ensure_user(session, row[8], instructor=True)
    courses = {row[0]: import_row(session, root, row) for row in CORPUS}
    session.flush()
    return courses


@pytest.fixture
def corpus(session, tmp_path):
    return load_corpus(session, tmp_path)


@pytest.fixture(scope="package")
def engine(db_url, tmp_path_factory):
    """This package's own database (see tests/conftest.py: own_engine)."""
    yield from own_engine(db_url, tmp_path_factory)


def serve_visitors(kind: str, tmp_path_factory, tmp_path, monkeypatch, seed=None, **config):
    """The LMS service on a fresh database of ``kind`` for visitors (no hub behind it), ``seed``
    run on the database first; yields (base url, engine, app) and stops it all after."""
    database = _database(kind, tmp_path_factory)
    url = next(database)
    engine = make_engine(url)
    upgrade(engine)
    if seed is not None:
        seed(engine)
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "unused-by-visitors")
    monkeypatch.setenv("JUPYTERHUB_API_URL", "http://127.0.0.1:9/hub/api")
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/services/lms/")
    server = ServerThread(lambda: make_app(LMSConfig(db_url=url, data_dir=str(tmp_path), **config), engine))
    yield f"http://127.0.0.1:{server.port}/services/lms/", engine, server.app
    server.call(_stop(server.server))
    engine.dispose()
    next(database, None)


async def _stop(server):
    server.stop()
