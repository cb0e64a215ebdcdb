"""The jupyter_server extension that runs in every student's server."""
from .app import LMSLabExtension


def _jupyter_server_extension_points():
    return [{"module": "lms_extension.labserver", "app": LMSLabExtension}]


__all__ = ["LMSLabExtension"]
