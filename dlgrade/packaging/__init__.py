"""Zone: packaging (trusted). ``dlgrade build``: the course files, per assignment.

``student.zip`` (the handout, vendoring only the zones in :data:`dlgrade.packaging.vendor.HANDOUT`),
``autograder.zip`` (made by ``otter generate``) and ``solutions.zip``; reproducible zips.
"""
