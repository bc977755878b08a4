"""Zone: the worker process. Runs student code; holds no secrets.

The zygote (:mod:`~dlgrade.worker.zygote`) imports torch once inside the sandbox and forks one
worker per submission; each worker confines itself step by step
(:mod:`~dlgrade.worker.confinement`) before any student code exists in it, then serves requests
(:mod:`~dlgrade.worker.server`). Nothing here is imported by a process that holds the
reference, the hidden graders or the results. Vendored into the student handout.
"""
