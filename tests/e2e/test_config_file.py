"""A config file in the data folder reaches the whole platform `lms run` starts: the hub
(its ports come from the environment, which wins) and the LMS service it launches."""
import requests

from tests.e2e.platform import Platform


def test_config_file_in_the_data_folder_configures_the_service(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "lms_config.py").write_text("c.LMSConfig.max_body_bytes = 4096\n"
                                        "c.LMSConfig.port = 1  # LMS_PORT from the environment wins\n")
    platform = Platform(data).start()
    try:
        alice = platform.as_user(platform.token("alice"))
        url = platform.lms + "api/v1/courses/python-for-beginners/enroll"
        small = alice.post(url, data=b"x" * 5000)  # over the file's limit, far below the default 1 MiB
        assert small.status_code == 413 and "limit" in small.json()["message"], small.text
        assert alice.post(url, json={}).status_code in (200, 201)
    finally:
        platform.stop()
