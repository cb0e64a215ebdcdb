"""Jupyter LMS: the LMS service, its models and services, and the student-server extension."""


def _jupyter_server_extension_points():
    from .labserver import LMSLabExtension

    return [{"module": "lms_extension.labserver", "app": LMSLabExtension}]
