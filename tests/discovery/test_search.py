"""Full-text search over both backends: typos, fields, filters, sorting, hostile input, parity."""
from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from lms_extension.db import make_engine, session_factory, upgrade
from lms_extension.errors import InvalidInput
from lms_extension.services import catalog, search
from lms_extension.services.course_import import import_course, load_course_folder
from tests.conftest import _database

from .conftest import CORPUS, import_row, load_corpus, write_course_folder


def slugs(session, **query) -> list[str]:
    return [c.slug for c in catalog.list_courses(session, catalog.CatalogQuery(limit=100, **query)).courses]


def test_fields_title_subtitle_description_lessons_instructor(session, corpus):
    assert slugs(session, q="pandas")[0] == "pandas-basics"  # title beats description (stats-bayes)
    assert set(slugs(session, q="pandas")) == {"pandas-basics", "stats-bayes"}
    assert slugs(session, q="spanning trees") == ["algo-graphs"]        # subtitle
    assert slugs(session, q="scikit") == ["ml-intro"]                     # description
    assert slugs(session, q="dijkstra") == ["algo-graphs"]                # lesson title + description
    assert slugs(session, q="websockets") == ["web-apis"]                 # lesson title only
    assert set(slugs(session, q="guido")) == {"python-start", "python-avance"}  # instructor
    assert slugs(session, q="PYTHON beginners") == ["python-start"]       # every word must match


def test_typos_are_corrected_and_reported(session, corpus):
    page = catalog.list_courses(session, catalog.CatalogQuery(q="pandsa"))
    assert [c.slug for c in page.courses][0] == "pandas-basics" and page.corrected == "pandas"
    assert slugs(session, q="machin lerning") == ["ml-intro"]
    assert slugs(session, q="algoritms") == ["algo-graphs"]
    assert slugs(session, q="dijkstar") == ["algo-graphs"]  # a swap of neighbours
    # prefixes while typing
    assert slugs(session, q="regress") == ["ml-intro"]
    # accents fold both ways
    assert slugs(session, q="decorateurs") == ["python-avance"]
    assert slugs(session, q="Générateurs") == ["python-avance"]
    # nothing near: no result rather than a wild guess
    assert slugs(session, q="xylophone") == []


def test_filters_and_sorts(session, corpus):
    assert set(slugs(session, q="python", language="fr")) == {"python-avance"}
    assert set(slugs(session, category="Data Science")) == {"pandas-basics", "sql-db"}
    assert set(slugs(session, min_price_cents=2000, max_price_cents=5000)) == {"ml-intro", "algo-graphs", "web-apis"}
    assert slugs(session, q="python", sort="price_desc") == ["web-apis", "python-avance", "python-start"]
    assert slugs(session, level="advanced", sort="title") == ["algo-graphs", "python-avance"]
    assert slugs(session, min_rating=4) == []  # nobody rated yet
    for bad in (dict(min_price_cents=-1), dict(min_price_cents=10, max_price_cents=5), dict(min_rating=6),
                dict(sort="random"), dict(q="x" * 201), dict(language="x" * 11)):
        with pytest.raises(InvalidInput):
            catalog.list_courses(session, catalog.CatalogQuery(**bad))


@pytest.mark.parametrize("hostile", ['"', '""', "*", "pandas*", "NEAR(pandas sql)", "title:pandas", "pandas OR sql",
                                     "'; DROP TABLE courses; --", "a & b | !c", "(((", "^pandas", "{title}: x",
                                     "\\", "%", "_", "\x00", "🐍 python", "pandas -sql"])
def test_query_syntax_is_never_interpreted(session, corpus, hostile):
    page = catalog.list_courses(session, catalog.CatalogQuery(q=hostile))
    assert page.total == len(page.courses)
    if hostile in ("pandas*", "^pandas", "pandas OR sql"[:6]):
        assert "pandas-basics" in [c.slug for c in page.courses]
    if hostile == "pandas OR sql":  # OR is a word here, not an operator: nothing has all three
        assert page.total == 0


def test_longest_query_allowed_is_fast_enough_and_bounded(session, corpus):
    q = " ".join(["pandas"] + [f"w{i}" for i in range(60)])[:200]
    assert catalog.list_courses(session, catalog.CatalogQuery(q=q)).total == 0
    plan = search.plan(session, q)
    assert len(plan.terms) <= search.MAX_QUERY_WORDS


def test_index_follows_reimport_and_unpublish(session, corpus, tmp_path):
    row = next(r for r in CORPUS if r[0] == "web-apis")
    import_row(session, tmp_path / "again", row, title="Web services with Flask")
    assert slugs(session, q="flask") == ["web-apis"]
    assert slugs(session, q="tornado") == []  # the old title word left the index and the vocabulary
    assert "tornado" not in search.vocabulary_cache.get(session)
    spec = load_course_folder(write_course_folder(tmp_path / "hidden", *row))
    spec.published = False
    import_course(session, spec)
    assert slugs(session, q="websockets") == []


QUERIES = ["pandas", "pandsa", "python", "machin lerning", "sql joins", "trees", "regress", "guido", "data",
           "décorateurs", "NEAR(", '"', "graph algoritms", "bayes pandas", "the", "monte carlo", "zzzz"]


def _answers(session: Session) -> list:
    out = []
    for q in QUERIES:
        for sort in ("relevance", "price_asc", "newest"):
            page = catalog.list_courses(session, catalog.CatalogQuery(q=q, sort=sort))
            out.append((q, sort, page.total, page.corrected, [c.slug for c in page.courses]))
    return out


def test_sqlite_and_postgresql_give_the_same_results(tmp_path_factory, tmp_path):
    """The same courses and queries on both backends: identical answers, order included."""
    results = {}
    for kind in ("sqlite", "postgresql"):
        database = _database(kind, tmp_path_factory)
        url = next(database)
        engine = make_engine(url)
        try:
            upgrade(engine)
            with session_factory(engine)() as session:
                load_corpus(session, tmp_path / kind)
                session.commit()
                search.vocabulary_cache.invalidate()
                results[kind] = _answers(session)
                assert search.backend_for(session).name.startswith(kind)
        finally:
            engine.dispose()
            next(database, None)
    assert results["sqlite"] == results["postgresql"]
    assert any(r[2] > 1 for r in results["sqlite"])  # the comparison is not between empty answers


def test_reindex_all_rebuilds_the_same_index(session, corpus):
    before = search.search_course_ids(session, "python")
    assert search.reindex_all(session) >= len(CORPUS)
    assert search.search_course_ids(session, "python") == before


def test_vocabulary_correction_rules():
    vocab = search.Vocabulary({"pandas": 10, "panda": 1, "python": 5, "regression": 3})
    assert vocab.correct("pandsa") == "pandas"
    assert vocab.correct("pnadas") == "pandas"
    assert vocab.correct("pyhton") == "python"
    assert vocab.correct("regresion") == "regression"
    assert vocab.correct("abc") is None          # too short to guess
    assert vocab.correct("qqqqqqq") is None
    assert search.edit_distance("kitten", "sitting", 5) == 3
    assert search.words("Ünïcode, C++ & scikit-learn!") == ["unicode", "c", "scikit", "learn"]
