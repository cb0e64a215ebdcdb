"""The LMS's login link sends the browser on to ``next`` only when it is a plain path of the LMS."""
import pytest

from lms_extension.web.pages.login import safe_next

PREFIX = "/services/lms/"


@pytest.mark.parametrize("target", [
    "/services/lms/", "/services/lms/courses/python-for-beginners", "/services/lms/search?q=sql&level=beginner#top",
])
def test_paths_of_the_lms_are_kept(target):
    assert safe_next(target, PREFIX) == target


@pytest.mark.parametrize("target", [
    "", "//evil.example/", "https://evil.example/", "/\\evil.example", "/hub/admin", "/services/lmsx/",
    "/services/lms//evil.example", "/services/lms/../../\\evil.example", "/services/lms/\\\\evil.example",
    "/services/lms/a/../../../user/other/lab", "/services/lms/x\r\nSet-Cookie: a=b", "/services/lms/\x00",
])
def test_anything_else_goes_to_the_catalog(target):
    assert safe_next(target, PREFIX) == PREFIX
