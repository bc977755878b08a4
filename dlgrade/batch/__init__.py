"""Zone: batch grading and reporting (trusted, the instructor's side).

``dlgrade grade``: names the submissions (Gradescope exports included), runs grading sessions in
parallel, follows their progress, and writes the gradebook and the HTML report. Student text it
shows (names, outputs) is escaped; it never runs student code itself.
"""
