"""Instructor applications: a database of this package's own, a hub-like server (hub.py) that
keeps groups and checks the service's token, and images to upload."""
from __future__ import annotations

import io

import pytest
from PIL import Image

from lms_extension.services.hub_client import HubClient
from lms_extension.services.storage import LocalStorage
from tests.conftest import own_engine

from .hub import FakeHub


@pytest.fixture(scope="package")
def engine(db_url, tmp_path_factory):
    """This package's own database (see tests/conftest.py: own_engine)."""
    yield from own_engine(db_url, tmp_path_factory)


@pytest.fixture(scope="package")
def hub():
    h = FakeHub()
    yield h
    h.stop()


@pytest.fixture
def hub_client(hub):
    return HubClient(hub.api_url, hub.service_token, timeout=5)


@pytest.fixture
def store(tmp_path):
    return LocalStorage(tmp_path / "files")


def png(size=(600, 400), color=(20, 120, 200)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


PROFILE = {"display_name": "  Ada   Lovelace ", "headline": "Analyst of engines",
           "bio": "I write **notes** on the Analytical Engine.", "payout_country": "gb"}
