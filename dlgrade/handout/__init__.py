"""Zone: the student handout's own code. Runs on a student's machine.

``python -m dlgrade check`` and the notebook check cells replay the public checks recorded in
``<assignment>_checks.json`` against the student's code (:mod:`~dlgrade.handout.checks`); the
``check`` command (:mod:`~dlgrade.handout.commands`). Imports only vendored zones: exposed,
worker, supervisor, judging.
"""
