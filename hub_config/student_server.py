"""What a student's server leaves out, whichever spawner starts it.

Students need neither nbgrader's instructor tools (formgrader, course list, Create Assignment)
nor the language-server front end: their server does not load those server extensions (about
half a second off every start) and their JupyterLab gets the student ``labconfig`` from
``lms_extension/labserver/etc/student`` (the Assignments panel and Validate stay). Staff (the
hub groups below) get everything, for authoring.
"""
from __future__ import annotations

from pathlib import Path

STAFF_GROUPS = ("instructors", "lms-admins")
DISABLED_SERVER_EXTENSIONS = {"nbgrader.server_extensions.formgrader": False,
                              "nbgrader.server_extensions.course_list": False,
                              "jupyter_lsp": False}
PACKAGE = Path(__file__).resolve().parent.parent / "lms_extension"
# the student's extra Jupyter configuration folder (labconfig/page_config.json), in the package
STUDENT_CONFIG = PACKAGE / "labserver" / "etc" / "student"
# where docker/student.Dockerfile links that folder inside the student image
IMAGE_STUDENT_CONFIG = "/opt/lms-student-config"


def is_staff(user) -> bool:
    return any(group.name in STAFF_GROUPS for group in user.groups)


def server_args(user) -> list[str]:
    """Extra single-user server arguments for ``user``."""
    return [] if is_staff(user) else [f"--ServerApp.jpserver_extensions={DISABLED_SERVER_EXTENSIONS!r}"]


def config_path(user, package_inside: Path | str) -> dict[str, str]:
    """Environment for ``user``'s server whose ``lms_extension`` folder is ``package_inside`` (or
    a config folder given as a string): JUPYTER_CONFIG_PATH to the student labconfig."""
    if is_staff(user):
        return {}
    if isinstance(package_inside, Path):
        return {"JUPYTER_CONFIG_PATH": str(package_inside / STUDENT_CONFIG.relative_to(PACKAGE))}
    return {"JUPYTER_CONFIG_PATH": package_inside}
