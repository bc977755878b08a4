"""pytest plugin that turns the graders in ``autograder/<name>/`` into a grading run.

Enable it with ``-p dlgrade.grading.plugin``. Grading mode (``--dlgrade-manifest``) runs every
grader once per submission in one pytest session: the ``submission`` fixture is parametrized
per submission at session scope, so each submission gets one worker process that is stopped
when pytest moves on to the next. The workers are forked from one zygote per session
(:class:`~dlgrade.worker.forkserver.Forkserver`), started when the session starts, so the
session pays for ``import torch`` in a worker once, not once per submission. Record mode (``--dlgrade-record``) runs the public graders
against the reference only and writes the public checks students get with the handout.

Markers: ``@pytest.mark.points(n)`` (default 1) and ``@pytest.mark.public`` (visible to students
and shipped in their local checks; unmarked graders are hidden until the scores are published).
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from dlgrade.errors import GradeFailure
from dlgrade.grading.results import HIDDEN, PUBLIC, TestResult, gradescope_results, write_results
from dlgrade.registry import get_assignment
from dlgrade.worker.forkserver import Forkserver

if TYPE_CHECKING:  # imported where used: this module imports no torch, so the zygote (started in
    # pytest_configure) imports it while this process does the same during collection
    from dlgrade.grading.grader import Grader
    from dlgrade.grading.reference import ReferenceSet
    from dlgrade.grading.runner import SubmissionRunner

_state = pytest.StashKey[dict]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dlgrade")
    group.addoption("--dlgrade-assignment", help="assignment being graded (rnn, attention, ...)")
    group.addoption("--dlgrade-manifest", help="JSON list of {name, path} submissions to grade")
    group.addoption("--dlgrade-results", help="folder for <name>/results.json")
    group.addoption("--dlgrade-record", help="write the public checks (JSON) here instead of grading")
    group.addoption("--dlgrade-timeout", type=float, default=20.0, help="seconds per call into student code")
    group.addoption("--dlgrade-jobs", type=int, default=os.cpu_count() or 1,
                    help="submissions whose workers run at once (the current one and the next ones)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "points(n): points this grader is worth (default 1)")
    config.addinivalue_line("markers", "public: students see this grader and get it as a local check")
    name = config.getoption("--dlgrade-assignment")
    manifest = config.getoption("--dlgrade-manifest")
    entries = json.loads(Path(manifest).read_text()) if manifest else []
    config.stash[_state] = {"assignment": get_assignment(name) if name else None, "submissions": entries,
                            "results": {e["name"]: {} for e in entries}, "records": [], "written": set(),
                            "started": time.monotonic(), "forkserver": None, "runners": {},
                            "plan": None}
    if entries and name:  # start the zygote now: it imports torch while pytest collects the graders
        config.stash[_state]["forkserver"] = Forkserver(hide=_private_paths(config))


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(_state, None)
    if state is None:
        return
    for runner in state["runners"].values():  # started ahead, never reached (an interrupted run)
        runner.close()
    if state["forkserver"] is not None:
        state["forkserver"].close()
    import gc

    gc.freeze()  # the session ends: spare the interpreter's final collections (~0.4 s with torch)


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
    from dlgrade.grading.reference import ReferenceSet

    return ReferenceSet(assignment)


@pytest.fixture(scope="session")
def submission(request: pytest.FixtureRequest, dlgrade_reference: ReferenceSet):
    """The submission being graded (None in record mode). Its worker, and those of the next
    ``--dlgrade-jobs`` - 1 submissions, answer the graders' requests ahead (see :mod:`.runner`)."""
    name = getattr(request, "param", None)
    if name is None:
        yield None
        return
    state = request.config.stash[_state]
    names = [e["name"] for e in state["submissions"]]
    ahead = max(1, request.config.getoption("--dlgrade-jobs"))
    for upcoming in names[names.index(name): names.index(name) + ahead]:
        _runner(request.config, dlgrade_reference, upcoming).start()
    runner = _runner(request.config, dlgrade_reference, name)
    try:
        yield runner
    finally:
        runner.close()
        del state["runners"][name]
        _write_results(request.config, name)  # now, so a later crash of this run cannot lose it


def _runner(config: pytest.Config, reference: ReferenceSet, name: str) -> SubmissionRunner:
    """The runner of submission ``name``, made on first use."""
    from dlgrade.grading.runner import RequestPlan, SubmissionRunner
    from dlgrade.submission import load_submission
    from dlgrade.worker.client import WorkerClient

    state = config.stash[_state]
    if name not in state["runners"]:
        entry = next(e for e in state["submissions"] if e["name"] == name)
        assignment = reference.assignment
        sub = load_submission(Path(entry["path"]), assignment.module_name, name=name)
        client = None
        if not sub.problem:
            client = WorkerClient(sub, assignment.module_name, assignment.forbidden,
                                  call_timeout=config.getoption("--dlgrade-timeout"),
                                  spawn=state["forkserver"].spawn)
        if state["plan"] is None:
            state["plan"] = RequestPlan()
        state["runners"][name] = SubmissionRunner(sub, client, state["plan"])
    return state["runners"][name]


@pytest.fixture
def grader(request: pytest.FixtureRequest, dlgrade_reference: ReferenceSet, submission) -> Grader:
    """Checks the current submission against the reference (or records public checks)."""
    from dlgrade.grading.grader import Grader

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


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> pytest.TestReport | None:
    """A failed check's report carries the student's feedback as it is: formatting a traceback
    for each of hundreds of expected failures would cost more than grading them."""
    if call.excinfo is None or not isinstance(call.excinfo.value, GradeFailure):
        return None
    sections = [(f"Captured {key} {when}", content) for when, key, content in item._report_sections]
    return pytest.TestReport(item.nodeid, item.location, dict.fromkeys(item.keywords, 1), "failed",
                             call.excinfo.value.message, call.when, sections, call.duration, call.start,
                             call.stop, user_properties=item.user_properties, dlgrade_graded=True)


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> tuple[str, str, str] | None:
    """While grading, the terminal (grading.log) shows no letter per test, and a check the
    submission failed (category "graded") is not listed with the failures: those left are the
    graders' own errors."""
    if not config.stash[_state]["submissions"] or report.when != "call":
        return None
    if getattr(report, "dlgrade_graded", False):
        return "graded", "", ""
    if report.passed:
        return "passed", "", ""
    return None


@pytest.hookimpl(hookwrapper=True, specname="pytest_runtest_makereport")
def pytest_runtest_makereport_record(item: pytest.Item, call: pytest.CallInfo):
    """Keep each graded test's score and feedback for its submission's results.json."""
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
        from dlgrade import tensorio

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
