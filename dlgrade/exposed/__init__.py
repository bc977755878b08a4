"""Zone: exposed to student code. Runs beside it and holds no secrets.

What is here runs inside the worker, in the same process as the student's code (and, for the
reference and the catalogued mistakes, in the trusted process too): carrying out one request
(:mod:`~dlgrade.exposed.execute`), the forbidden-call tripwires, and the wire format both sides
speak (framing, tensor packing, the typed messages), and the seccomp and Landlock filters a worker
puts on itself (:mod:`~dlgrade.exposed.filters`). Student code can read and patch all of it,
so nothing here decides a score, holds an expected answer, or trusts what it reads. Vendored
into the student handout.
"""
