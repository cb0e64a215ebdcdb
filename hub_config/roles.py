"""Roles and custom scopes: what students, instructors and admins may do.

The LMS service reads the custom ``custom:lms:*`` scopes from the hub's user model, so a
role change in the hub (group membership) is a role change in the LMS.
"""
from __future__ import annotations


from lms_extension.permissions import ADMIN as ADMIN_SCOPE, TEACH as TEACH_SCOPE

__all__ = ["ADMIN_SCOPE", "TEACH_SCOPE", "configure"]
INSTRUCTORS_GROUP = "instructors"
ADMINS_GROUP = "lms-admins"


def configure(c, *, admin_token: str | None = None) -> None:
    c.JupyterHub.custom_scopes = {
        TEACH_SCOPE: {"description": "Author, publish and manage own courses in the LMS"},
        ADMIN_SCOPE: {"description": "Administer the LMS: all courses, users and payouts"},
    }
    c.JupyterHub.load_groups = {
        INSTRUCTORS_GROUP: {"users": ["instructor"]},
        ADMINS_GROUP: {"users": ["admin"]},
    }
    roles = [
        # every user: their own server and tokens, and the LMS service
        {"name": "user", "scopes": ["self", "access:services!service=lms"]},
        {"name": "lms-instructor", "description": "Teaches courses",
         "scopes": [TEACH_SCOPE], "groups": [INSTRUCTORS_GROUP]},
        {"name": "lms-admin", "description": "Runs the LMS",
         "scopes": [ADMIN_SCOPE, TEACH_SCOPE], "groups": [ADMINS_GROUP]},
        # the LMS service itself: an approved instructor application joins the instructors group
        # through the hub's API (lms_extension/services/hub_client.py), never by editing a database
        {"name": "lms-service", "description": "What the LMS service changes in the hub",
         "scopes": [f"groups!group={INSTRUCTORS_GROUP}",
                    # the admin console: the admin role, deleting an account (the hub's
                    # authenticator erases its LMS data, home and password with it), stopping
                    # a deactivated account's server
                    f"groups!group={ADMINS_GROUP}", "delete:users", "delete:servers"],
         "services": ["lms"]},
    ]
    if admin_token:
        # operators' scripts and the test-suite drive the hub's REST API with this token
        c.JupyterHub.services.append({"name": "lms-admin-cli", "api_token": admin_token})
        roles.append({"name": "lms-operator", "services": ["lms-admin-cli"],
                      "scopes": ["admin:users", "admin:servers", "access:servers", "list:users",
                                 "read:users", "tokens", "admin:groups"]})
    c.JupyterHub.load_roles = roles
    # the token in a student's server may call the LMS service as that student. The LMS takes a
    # user's roles from the scopes of the token it is shown: an instructor's (or admin's) own
    # server carries theirs, for the Course panel's Validate / Preview / Publish, instead of
    # demoting them on each call; the hub drops the scopes a student does not have.
    c.Spawner.server_token_scopes = ["users:activity!user", "access:servers!server",
                                     "access:services!service=lms", "read:users:name!user",
                                     TEACH_SCOPE, ADMIN_SCOPE]
