"""Zone: comparison and wording shared by the hidden graders and the students' checks.

Given a recorded check (request, expected answer) and a worker's answer as plain data, say
whether it passes and, in the student's language, what differs (:mod:`~dlgrade.judging.kinds`,
:mod:`~dlgrade.judging.feedback`); replay a recorded test, first failing check wins
(:mod:`~dlgrade.judging.replay`); the message catalogues (:mod:`~dlgrade.judging.i18n`). Needs no
reference and holds no secret: the expected answers it compares with come from its caller.
Vendored into the student handout.
"""
