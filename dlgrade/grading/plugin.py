"""pytest plugin that turns the graders in ``autograder/<name>/`` into a grading run.

Enable it with ``-p dlgrade.grading.plugin``. Grading mode (``--dlgrade-manifest``) runs every
grader once per submission in one pytest session: the ``submission`` fixture is parametrized
per submission at session scope, so each submission gets one worker process that is stopped
when pytest moves on to the next. Record mode (``--dlgrade-record``) runs the public graders
against the reference only and writes the public checks students get with the handout.

Markers: ``@pytest.mark.points(n)`` (default 1) and ``@pytest.mark.public`` (visible to students
and shipped in their local checks; unmarked graders are hidden until the scores are published).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from dlgrade import tensorio
from dlgrade.errors import GradeFailure
from dlgrade.grading.grader import Grader
from dlgrade.grading.reference import ReferenceSet
from dlgrade.grading.results import HIDDEN, PUBLIC, TestResult, gradescope_results, write_results
from dlgrade.registry import get_assignment
from dlgrade.submission import Submission, load_submission
from dlgrade.worker.client import WorkerClient

_state = pytest.StashKey[dict]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dlgrade")
    group.addoption("--dlgrade-assignment", help="assignment being graded (rnn, attention, ...)")
    group.addoption("--dlgrade-manifest", help="JSON list of {name, path} submissions to grade")
    group.addoption("--dlgrade-results", help="folder for <name>/results.json")
    group.addoption("--dlgrade-record", help="write the public checks (JSON) here instead of grading")
    group.addoption("--dlgrade-timeout", type=float, default=20.0, help="seconds per call into student code")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "points(n): points this grader is worth (default 1)")
    config.addinivalue_line("markers", "public: students see this grader and get it as a local check")
    name = config.getoption("--dlgrade-assignment")
    manifest = config.getoption("--dlgrade-manifest")
    entries = json.loads(Path(manifest).read_text()) if manifest else []
    config.stash[_state] = {"assignment": get_assignment(name) if name else None, "submissions": entries,
                            "results": {e["name"]: {} for e in entries}, "records": [], "written": set(),
                            "started": time.monotonic()}


def _recording(config: pytest.Config) -> bool:
    return bool(config.getoption("--dlgrade-record"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _recording(config):
        keep = [i for i in items if i.get_closest_marker("public")]
        config.hook.pytest_deselected(items=[i for i in items if i not in keep])
        items[:] = keep


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    entries = metafunc.config.stash[_state]["submissions"]
    if "submission" in metafunc.fixturenames and entries:
        names = [e["name"] for e in entries]
        metafunc.parametrize("submission", names, indirect=True, scope="session", ids=names)


@pytest.fixture(scope="session")
def dlgrade_reference(pytestconfig: pytest.Config) -> ReferenceSet:
    assignment = pytestconfig.stash[_state]["assignment"]
    if assignment is None:
        pytest.fail("--dlgrade-assignment is required to run the graders")
    return ReferenceSet(assignment)


class SubmissionRunner:
    """A submission and the worker that runs its code."""

    def __init__(self, submission: Submission, client: WorkerClient | None) -> None:
        self.submission = submission
        self.client = client

    def __call__(self, request: dict) -> dict:
        if self.submission.problem:
            return {"ok": False, "error": self.submission.problem, "where": "reading your submission"}
        assert self.client is not None
        return self.client.request(request)

    def context(self) -> str:
        report = self.client.load_report if self.client else None
        errors = (report or {}).get("errors", [])
        return "\n".join(f"While loading your code, {e['label']} raised {e['error']}" for e in errors)


@pytest.fixture(scope="session")
def submission(request: pytest.FixtureRequest, dlgrade_reference: ReferenceSet):
    """The submission being graded (None in record mode)."""
    name = getattr(request, "param", None)
    if name is None:
        yield None
        return
    state = request.config.stash[_state]
    entry = next(e for e in state["submissions"] if e["name"] == name)
    assignment = dlgrade_reference.assignment
    sub = load_submission(Path(entry["path"]), assignment.module_name, name=name)
    client = None
    if not sub.problem:
        client = WorkerClient(sub, assignment.module_name, assignment.forbidden,
                              call_timeout=request.config.getoption("--dlgrade-timeout"),
                              hide=_private_paths(request.config))
    try:
        yield SubmissionRunner(sub, client)
    finally:
        if client is not None:
            client.close()
        _write_results(request.config, name)  # now, so a later crash of this run cannot lose it


@pytest.fixture
def grader(request: pytest.FixtureRequest, dlgrade_reference: ReferenceSet, submission) -> Grader:
    """Checks the current submission against the reference (or records public checks)."""
    state = request.config.stash[_state]
    if submission is None:
        if not _recording(request.config):
            pytest.fail("no submission to grade: pass --dlgrade-manifest or --dlgrade-record")
        checks: list[dict] = []
        node = request.node
        state["records"].append({"name": _title(node), "nodeid": node.nodeid, "points": _points(node),
                                 "checks": checks})
        return Grader(dlgrade_reference, recorder=checks)
    return Grader(dlgrade_reference, target=submission, context=submission.context)


def _private_paths(config: pytest.Config) -> tuple[Path, ...]:
    """What no worker may see: the assignment's files, the results, every submission's folder."""
    state = config.stash[_state]
    paths = [state["assignment"].root, *(Path(e["path"]).resolve().parent for e in state["submissions"])]
    if config.getoption("--dlgrade-results"):
        paths.append(Path(config.getoption("--dlgrade-results")))
    return tuple(paths)


def _points(item: pytest.Item) -> float:
    marker = item.get_closest_marker("points")
    return float(marker.args[0]) if marker else 1.0


def _title(item: pytest.Item) -> str:
    """Docstring's first line (or the function name), plus the parameters except the submission."""
    doc = (getattr(item, "obj", None).__doc__ or "").strip().splitlines()
    title = doc[0].strip() if doc else item.name.split("[")[0]
    callspec = getattr(item, "callspec", None)
    params = [str(v) for k, v in callspec.params.items() if k != "submission"] if callspec else []
    return f"{title} [{', '.join(params)}]" if params else title


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    state = item.config.stash[_state]
    callspec = getattr(item, "callspec", None)
    sub_name = callspec.params.get("submission") if callspec else None
    if sub_name is None or sub_name not in state["results"]:
        return
    if report.when == "call" or (report.when == "setup" and report.failed):
        if report.passed:
            output = "passed"
        elif call.excinfo is not None and isinstance(call.excinfo.value, GradeFailure):
            output = call.excinfo.value.message
        else:
            exc = call.excinfo.value if call.excinfo else None
            output = f"grader error ({type(exc).__name__}: {exc}); please tell your instructor"
        visibility = PUBLIC if item.get_closest_marker("public") else HIDDEN
        max_score = _points(item)
        state["results"][sub_name][item.nodeid] = TestResult(
            _title(item), max_score if report.passed else 0.0, max_score, output, visibility)


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    state = config.stash[_state]
    record = config.getoption("--dlgrade-record")
    if record and state["records"]:
        assignment = state["assignment"]
        data = {"assignment": assignment.name, "format": 1, "forbidden": assignment.forbidden,
                "tests": tensorio.to_json(state["records"])}
        Path(record).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    for name in state["results"]:
        _write_results(config, name)


def _write_results(config: pytest.Config, name: str) -> None:
    """Write ``<results>/<name>/results.json`` once, from what the graders reported."""
    state = config.stash[_state]
    results_dir = config.getoption("--dlgrade-results")
    if not results_dir or name in state["written"]:
        return
    state["written"].add(name)
    entry = next(e for e in state["submissions"] if e["name"] == name)
    header = f"{state['assignment'].name}: {Path(entry['path']).name}"
    elapsed = time.monotonic() - state["started"]
    results = gradescope_results(list(state["results"][name].values()), header, elapsed)
    write_results(Path(results_dir) / name / "results.json", results)
    state["started"] = time.monotonic()
