# The LMS's nbgrader Exchange for students: `nbgrader list/fetch_assignment/submit/fetch_feedback`
# and JupyterLab's Assignments panel talk to the LMS service over HTTP with the student's token.
# Installed into <environment>/etc/jupyter/ (pyproject data-files; `make` copies it for editable installs).
c = get_config()  # noqa: F821

_EX = "lms_extension.labserver.exchange."
c.ExchangeFactory.exchange = _EX + "LMSExchange"
c.ExchangeFactory.list = _EX + "LMSExchangeList"
c.ExchangeFactory.fetch_assignment = _EX + "LMSExchangeFetchAssignment"
c.ExchangeFactory.submit = _EX + "LMSExchangeSubmit"
c.ExchangeFactory.fetch_feedback = _EX + "LMSExchangeFetchFeedback"
c.ExchangeFactory.release_assignment = _EX + "LMSExchangeReleaseAssignment"
c.ExchangeFactory.collect = _EX + "LMSExchangeCollect"
c.ExchangeFactory.release_feedback = _EX + "LMSExchangeReleaseFeedback"
