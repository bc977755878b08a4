"""Graded scenarios: real students' submissions with the grade each must get.

Each ``tests/scenarios/<assignment>/<case>/`` holds one submission (``<module>.py``, ``.ipynb``)
and ``expected.json``: why the case is there, the score and maximum, the tests that fail, the
catalogued mistakes whose ``Hint:`` it must show, and phrases its feedback must contain. Each
assignment's cases are graded as ONE batch through :func:`dlgrade.batch.run.grade` (the demo
grades the same folders). A new case is a folder; no code changes.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from dlgrade.authoring.registry import ASSIGNMENTS, Assignment, get_assignment
from dlgrade.batch.run import grade

pytestmark = pytest.mark.slow

EXPECTED_KEYS = {"why", "score", "max_score", "failing", "hints", "feedback"}
CASES = [(name, case.name) for name in ASSIGNMENTS for case in get_assignment(name).scenarios]


def expected_of(assignment: Assignment, case: str) -> dict:
    return json.loads((assignment.scenarios_dir / case / "expected.json").read_text())


def failing_tests(results: dict) -> list[str]:
    """The names of the tests that lost points, sorted, each once."""
    return sorted({t["name"] for t in results["tests"] if t.get("score", 0) < t.get("max_score", 0)})


def hints_shown(assignment: Assignment, results: dict) -> list[str]:
    """The ids of the catalogued mistakes whose hint appears on a ``Hint:`` line."""
    lines = [line for t in results["tests"] for line in t.get("output", "").splitlines()
             if line.startswith("Hint: ")]
    return sorted(m.id for m in assignment.mistakes if any(m.hint in line for line in lines))


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict[str, dict[str, dict]]:
    """``{assignment: {case: results}}``, each assignment's cases graded as one batch."""
    out = tmp_path_factory.mktemp("scenarios")
    return {name: grade(get_assignment(name), get_assignment(name).scenarios, out / name)
            for name in ASSIGNMENTS}


@pytest.mark.parametrize("name, case", CASES, ids=[f"{n}/{c}" for n, c in CASES])
def test_scenario_grades_as_expected(graded, name, case):
    assignment = get_assignment(name)
    expected = expected_of(assignment, case)
    results = graded[name][case]
    got = {"score": results["score"], "max_score": sum(t.get("max_score", 0) for t in results["tests"]),
           "failing": failing_tests(results), "hints": hints_shown(assignment, results)}
    want = {key: expected[key] for key in got}
    assert got == want, f"{name}/{case} ({expected['why']})"
    output = "\n".join(t.get("output", "") for t in results["tests"])
    for phrase in expected["feedback"]:
        assert phrase in output, f"{name}/{case}: feedback lacks {phrase!r}"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_scenarios_cover_full_marks_a_hint_and_partial_credit(name):
    """Every assignment has a case that earns full marks, one showing a catalogued hint, and one
    with partial credit; every expected.json says why it is there and names real mistakes."""
    assignment = get_assignment(name)
    cases = [expected_of(assignment, p.name) for p in assignment.scenarios]
    assert cases, f"{name} has no scenarios"
    for case in cases:
        assert set(case) == EXPECTED_KEYS and case["why"].strip()
        assert set(case["hints"]) <= {m.id for m in assignment.mistakes}
        assert not case["failing"] == (case["score"] < case["max_score"])
    assert any(c["score"] == c["max_score"] for c in cases)
    assert any(c["hints"] for c in cases)
    assert any(0 < c["score"] < c["max_score"] for c in cases)


def test_each_scenario_folder_holds_one_submission_and_its_expectation():
    for name in ASSIGNMENTS:
        assignment = get_assignment(name)
        folders = sorted(p for p in assignment.scenarios_dir.iterdir() if p.is_dir())
        assert folders == assignment.scenarios, f"{name}: a scenario folder lacks expected.json"
        for folder in folders:
            files = sorted(p.name for p in folder.iterdir() if p.name != "__pycache__")
            assert files in (sorted(["expected.json", f"{name}.py"]), sorted(["expected.json", f"{name}.ipynb"])), files
