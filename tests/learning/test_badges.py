"""Achievements as Open Badges 3.0 credentials (W3C Verifiable Credentials, JSON-LD)."""
from __future__ import annotations

import json

import pytest

from lms_extension.errors import NotFound
from lms_extension.services import gamification

from .conftest import build_course, enroll, graded

BASE = "https://lms.example.org/services/lms/"


def test_every_badge_exports_an_open_badge_credential(session, tmp_path, alice):
    course = build_course(session, tmp_path, lessons=1)
    enroll(session, alice, course.slug)
    graded(session, alice, course.slug, "l1", 2.0)
    earned = gamification.achievements_of(session, alice.id)
    assert {a.key for a in earned} == {"first-exercise", "perfect-score", "milestone-25", "milestone-50",
                                       "milestone-75", "milestone-100", "first-course"}
    for a in earned:
        cred = json.loads(json.dumps(gamification.open_badge(session, a, base_url=BASE)))
        assert cred["@context"][0] == "https://www.w3.org/ns/credentials/v2"
        assert cred["@context"][1].startswith("https://purl.imsglobal.org/spec/ob/v3p0/context-3.0")
        assert cred["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
        assert cred["id"] == f"{BASE.rstrip('/')}/achievements/{a.uid}/credential"
        assert cred["issuer"]["type"] == ["Profile"] and cred["issuer"]["id"].startswith("https://")
        assert cred["validFrom"].endswith("Z")
        subject = cred["credentialSubject"]
        assert subject["type"] == ["AchievementSubject"] and subject["name"] == "alice"
        ach = subject["achievement"]
        assert ach["type"] == ["Achievement"] and ach["name"] and ach["description"]
        assert ach["criteria"]["narrative"]
        if a.key.startswith("milestone-"):
            assert ach["name"].endswith(": Course learn")


def test_badges_are_awarded_once(session, alice):
    assert gamification.award(session, alice.id, "first-exercise")
    assert not gamification.award(session, alice.id, "first-exercise")
    assert len(gamification.achievements_of(session, alice.id)) == 1


@pytest.mark.parametrize("forged", ["nope", "0" * 32, "../x", "a" * 65])
def test_unknown_achievement_ids_are_404(session, forged):
    with pytest.raises(NotFound):
        gamification.get_achievement(session, forged)
