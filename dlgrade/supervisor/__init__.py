"""Zone: the trusted supervisor of workers. Holds no secrets, trusts nothing a worker sends.

Starts workers (a process of its own, or forked by the zygote), confines them according to the
sandbox policy (:mod:`~dlgrade.supervisor.policy`, translated for bubblewrap by
:mod:`~dlgrade.supervisor.bwrap`), reads submissions into code chunks, sends requests and
decodes answers into plain data with per-call timeouts. Runs in the grading process and in a
student's ``dlgrade check``; vendored into the student handout.
"""
