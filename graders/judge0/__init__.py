"""A Judge0 CE 1.13-compatible HTTP API over the sandbox.

``statuses`` (the status table, importable without Tornado), ``config`` (settings),
``schema`` (request parsing, response rendering), ``store`` (where submissions live),
``pool`` (fair run slots), ``service`` (accepting and running submissions), ``handlers``
(the Tornado routes) and ``app`` (the standalone server, ``lms judge0``).
"""
