"""Zone: the grading server's entry (trusted). Runs in Otter's process on Gradescope or ``otter run``.

The Otter plugin keeps student code out of Otter's kernel and hands the submission to dlgrade's
grading, then puts dlgrade's results into Otter's :class:`otter.test_files.GradingResults`.
"""
