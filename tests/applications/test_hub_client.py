"""services/hub_client.py against the hub-like server: what the LMS service's role lets it change."""
from __future__ import annotations

import uuid

import pytest

from lms_extension.services.hub_client import HubClient, HubUnavailable


def test_the_service_changes_the_groups_its_role_names_only(hub, hub_client):
    assert "instructors" in hub.service_groups  # hub_config/roles.py's lms-service role
    name = f"member-{uuid.uuid4().hex[:6]}"
    hub.add_user(name)
    hub_client.add_to_group("instructors", [name])
    hub_client.add_to_group("instructors", [name])  # already a member: no change, no error
    assert name in hub_client.group_members("instructors") and name in hub.members("instructors")
    hub_client.remove_from_group("instructors", [name])
    assert name not in hub.members("instructors")
    with pytest.raises(HubUnavailable, match="may not change that group"):
        hub_client.add_to_group("staff-room", [name])


def test_a_wrong_token_or_no_hub_is_refused_clearly(hub):
    name = f"member-{uuid.uuid4().hex[:6]}"
    hub.add_user(name)
    user_token = hub.add_user(name)  # a user's own token is not the service's
    with pytest.raises(HubUnavailable, match="may not change that group"):
        HubClient(hub.api_url, user_token).add_to_group("instructors", [name])
    with pytest.raises(HubUnavailable, match="no JupyterHub API address or token"):
        HubClient("", "").add_to_group("instructors", [name])
    with pytest.raises(HubUnavailable, match="did not answer"):
        HubClient("http://127.0.0.1:9/hub/api", hub.service_token, timeout=2).add_to_group("instructors", [name])
    assert name not in hub.members("instructors")
