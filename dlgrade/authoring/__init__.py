"""Zone: instructor authoring (trusted). Turns the course's sources into what students get.

The registry of assignments and where their files live, catalogued mistakes, the skeleton and
notebook generators, ``# GIVEN FROM`` lines, translations of an assignment's text, ``dlgrade
generate`` and ``dlgrade selftest``. Reads the reference; never shipped to students.
"""
