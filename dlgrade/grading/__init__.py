"""The trusted side of grading: the pytest plugin, the grader fixture and results files."""
