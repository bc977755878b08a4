"""Zone: trusted grading. Holds the reference, the hidden graders' checks and the results.

The pytest plugin that runs the graders once against the reference and replays their checks
against every submission (:mod:`~dlgrade.grading.plugin`), the objects graders use (probes, the
``grader`` fixture's check recorder), the reference oracle, the answers prefetched from each
worker, ``results.json``, and the child process that runs a grading session. Never imported by a
worker; never shipped to students.
"""
