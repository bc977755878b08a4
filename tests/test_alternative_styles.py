"""Correct submissions in other styles than the reference get full marks, and no hint.

Each ``tests/alt_solutions/<assignment>/<style>.py`` is a complete, correct submission written the
way students and course or blog code write it (loops, einsum, bmm, fused or per-gate weights,
in-place ops on their own tensors, other mask and log-sum-exp idioms). Each assignment's styles are
graded as ONE batch through :func:`dlgrade.batch.run.grade`, every style in a folder of its own
under the module's name (code the handout gives, another assignment's reference, is written as its
``# GIVEN FROM`` line and expanded as the handout does); each must score its maximum with no ``Hint:`` line in its feedback, so
the graders and the catalogue of mistakes do not penalise a correct answer for its style.
"""
from __future__ import annotations

import pytest
from conftest import alternative_styles

from dlgrade.authoring.registry import ASSIGNMENTS, get_assignment
from dlgrade.batch.run import grade

pytestmark = pytest.mark.slow

MIN_STYLES = 4


def styles_of(name: str) -> list[str]:
    """The style files of an assignment, by stem, sorted."""
    return list(alternative_styles(name))


CASES = [(name, style) for name in ASSIGNMENTS for style in styles_of(name)]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """``graded(name)`` -> ``{style: results}``: the assignment's styles graded as one batch (once)."""
    done: dict[str, dict[str, dict]] = {}

    def get(name: str) -> dict[str, dict]:
        if name not in done:
            assignment = get_assignment(name)
            root = tmp_path_factory.mktemp(f"alt-{name}")
            folders = []
            for style, source in alternative_styles(name).items():
                folder = root / "submissions" / style
                folder.mkdir(parents=True)
                (folder / f"{assignment.module_name}.py").write_text(source)
                folders.append(folder)
            done[name] = grade(assignment, folders, root / "out")
        return done[name]

    return get


def describe_failures(results: dict) -> str:
    """The tests that lost points or show a hint: name, score and output of each."""
    parts = []
    for test in results.get("tests", []):
        output = test.get("output", "")
        lost = test.get("score", 0) < test.get("max_score", 0)
        hinted = any(line.startswith("Hint:") for line in output.splitlines())
        if lost or hinted:
            parts.append(f"--- {test.get('name')} ({test.get('score')}/{test.get('max_score')})\n{output}")
    return "\n".join(parts) or f"(no failing test; overall output: {results.get('output', '')})"


@pytest.mark.parametrize("name, style", CASES, ids=[f"{n}/{s}" for n, s in CASES])
def test_alternative_style_gets_full_marks_without_hints(graded, name, style):
    results = graded(name)[style]
    tests = results.get("tests", [])
    max_score = sum(t.get("max_score", 0) for t in tests)
    hints = [line for t in tests for line in t.get("output", "").splitlines() if line.startswith("Hint:")]
    assert tests and max_score > 0, f"{name}/{style}: no graded tests\n{results}"
    assert results["score"] == max_score and not hints, (
        f"{name}/{style}: {results['score']}/{max_score}, {len(hints)} hint line(s)\n{describe_failures(results)}")


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_every_assignment_has_enough_styles(name):
    styles = styles_of(name)
    assert len(styles) >= MIN_STYLES, f"{name} has {len(styles)} alternative styles {styles}, want >= {MIN_STYLES}"
