"""What runs in a student's kernel: the ``%%judge`` magic (``judge``), ``%lms_quiz`` and
``%lms_progress`` (``learning``), and the one LMS client they and the lab server share
(``client``). Loaded in every kernel by ``labserver/etc/ipython/ipython_kernel_config.py``.

Nothing is imported here: the grading sandbox copies only the modules it needs.
"""
