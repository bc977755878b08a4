"""The reference solution and its catalogued mistakes, run in the trusted process."""
from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from typing import Any

from dlgrade import execute
from dlgrade.mistakes import Mistake, module_from_source, strip_solution_markers
from dlgrade.registry import Assignment


class ReferenceSet:
    """Answers requests with the reference, and with each catalogued mistake on demand."""

    def __init__(self, assignment: Assignment) -> None:
        self.assignment = assignment
        self.source = strip_solution_markers(assignment.solution_path.read_text())
        self._mistake_namespaces: dict[str, dict[str, Any]] = {}

    @cached_property
    def namespace(self) -> dict[str, Any]:
        name = self.assignment.module_name
        return module_from_source(self.source, f"_dlgrade_ref_{name}", f"<reference {name}>").__dict__

    def mistake_source(self, mistake: Mistake) -> str:
        """The reference with ``mistake`` applied: a complete wrong submission."""
        return mistake.apply(self.source)

    def _mistake_namespace(self, mistake: Mistake) -> dict[str, Any]:
        if mistake.id not in self._mistake_namespaces:
            module = module_from_source(self.mistake_source(mistake), f"_dlgrade_mistake_{mistake.id}",
                                        f"<mistake {mistake.id}>")
            self._mistake_namespaces[mistake.id] = module.__dict__
        return self._mistake_namespaces[mistake.id]

    def respond(self, request: dict) -> dict:
        """The reference's answer; it must succeed (a failure here is a bug in the grader)."""
        response = execute.run(self.namespace, request, self.assignment.forbidden)
        if not response.get("ok"):
            raise RuntimeError(f"the reference failed on {request['target']}: {response.get('error')}")
        return response

    def mistake_responses(self, request: dict) -> Iterator[tuple[str, dict]]:
        """``(hint, answer)`` of every catalogued mistake that runs on ``request``."""
        for mistake in self.assignment.mistakes:
            response = execute.run(self._mistake_namespace(mistake), request, {})
            if response.get("ok"):
                yield mistake.hint, response
