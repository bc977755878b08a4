"""pytest plugin that turns the graders in ``autograder/<name>/`` into a grading run.

Enable it with ``-p dlgrade.grading.plugin``. Every grader test runs **once**, against the
reference, and its checks are recorded (:class:`~dlgrade.grading.recorder.Grader`).

Grading mode (``--dlgrade-manifest``): after the graders ran, the recorded checks are replayed
against every submission (:mod:`dlgrade.grading.replay`), each submission in a worker of its own
forked from one zygote per session (:class:`~dlgrade.supervisor.forkserver.Forkserver`, started when
the session starts, so ``import torch`` in a worker is paid once), ``--dlgrade-jobs`` workers at
once answering ahead (:mod:`dlgrade.grading.prefetch`). Each submission's ``results.json`` is
written as soon as it is graded. A grader that fails against the reference is a grader error: it
scores 0 for everyone, with a message asking students to tell their instructor.

Record mode (``--dlgrade-record``): the public graders' checks, with the catalogued mistakes'
answers, are written as the checks students get with the handout.

Markers: ``@pytest.mark.points(n)`` (default 1) and ``@pytest.mark.public`` (visible to students
and shipped in their local checks; unmarked graders are hidden until the scores are published).
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from dlgrade.authoring.registry import get_assignment
from dlgrade.grading.results import HIDDEN, PUBLIC, gradescope_results, write_results
from dlgrade.judging.i18n import DEFAULT_LANG, LANGS, Messages
from dlgrade.supervisor.forkserver import Forkserver

if TYPE_CHECKING:  # imported where used: this module imports no torch, so the zygote (started in
    # pytest_configure) imports it while this process does the same during collection
    from dlgrade.grading.oracle import ReferenceSet
    from dlgrade.grading.prefetch import SubmissionRunner
    from dlgrade.grading.recorder import Grader

_state = pytest.StashKey[dict]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dlgrade")
    group.addoption("--dlgrade-assignment", help="assignment being graded (rnn, attention, ...)")
    group.addoption("--dlgrade-manifest", help="JSON list of {name, path} submissions to grade")
    group.addoption("--dlgrade-results", help="folder for <name>/results.json")
    group.addoption("--dlgrade-record", help="write the public checks (JSON) here instead of grading")
    group.addoption("--dlgrade-timeout", type=float, default=20.0, help="seconds per call into student code")
    group.addoption("--dlgrade-jobs", type=int, default=(os.cpu_count() or 1) + 1,
                    help="submissions whose workers run at once (the current one and the next ones)")
    group.addoption("--dlgrade-lang", default=DEFAULT_LANG, choices=LANGS,
                    help="language of what students read: test names, feedback, hints")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "points(n): points this grader is worth (default 1)")
    config.addinivalue_line("markers", "public: students see this grader and get it as a local check")
    name = config.getoption("--dlgrade-assignment")
    manifest = config.getoption("--dlgrade-manifest")
    entries = json.loads(Path(manifest).read_text()) if manifest else []
    config.stash[_state] = {"assignment": get_assignment(name) if name else None, "submissions": entries,
                            "records": [], "compiled": {}, "skipped": set(), "reference": None,
                            "forkserver": None, "runners": {}, "names": None}
    if entries and name:  # start the zygote now: it imports torch while pytest collects the graders
        config.stash[_state]["forkserver"] = Forkserver(hide=_private_paths(config))
        # the threads that feed the workers wait for the GIL while the graders are judged; let
        # them have it within 0.5 ms instead of the default 5 ms, so the workers are not kept waiting
        sys.setswitchinterval(0.0005)


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


def _grading(config: pytest.Config) -> bool:
    return bool(config.stash[_state]["submissions"])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _recording(config):
        keep = [i for i in items if i.get_closest_marker("public")]
        config.hook.pytest_deselected(items=[i for i in items if i not in keep])
        items[:] = keep


@pytest.fixture(scope="session")
def dlgrade_reference(pytestconfig: pytest.Config) -> ReferenceSet:
    return _reference(pytestconfig)


def _reference(config: pytest.Config) -> ReferenceSet:
    state = config.stash[_state]
    if state["reference"] is None:
        from dlgrade.grading.oracle import ReferenceSet

        if state["assignment"] is None:
            pytest.fail("--dlgrade-assignment is required to run the graders")
        state["reference"] = ReferenceSet(state["assignment"], config.getoption("--dlgrade-lang"))
    return state["reference"]


@pytest.fixture
def grader(request: pytest.FixtureRequest, dlgrade_reference: ReferenceSet) -> Grader:
    """Records the checks of the grader test that asks for it (see :mod:`dlgrade.grading.recorder`)."""
    from dlgrade.grading.recorder import Grader
    from dlgrade.grading.replay import CompiledTest

    config = request.config
    state = config.stash[_state]
    node = request.node
    checks: list[dict] = []
    if _grading(config):
        state["compiled"][node.nodeid] = CompiledTest(node.nodeid, _title(node), _points(node), _visibility(node),
                                                      checks)
        return Grader(dlgrade_reference, recorder=checks)
    if not _recording(config):
        pytest.fail("nothing to do: pass --dlgrade-manifest (grade) or --dlgrade-record (public checks)")
    state["records"].append({"name": _title(node), "nodeid": node.nodeid, "points": _points(node),
                             "checks": checks})
    return Grader(dlgrade_reference, recorder=checks, with_mistakes=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """A grader that fails against the reference is a grader error, for every submission."""
    report = yield
    config = item.config
    if _grading(config) and report.skipped:
        config.stash[_state]["skipped"].add(item.nodeid)
    elif _grading(config) and report.failed and report.when in ("setup", "call"):
        from dlgrade.grading.replay import CompiledTest

        exc = call.excinfo.value if call.excinfo else None
        compiled = config.stash[_state]["compiled"]
        test = compiled.get(item.nodeid) or CompiledTest(item.nodeid, _title(item), _points(item), _visibility(item))
        test.error = Messages(config.getoption("--dlgrade-lang"))("grading.grader_error",
                                                                  error=f"{type(exc).__name__}: {exc}")
        compiled[item.nodeid] = test
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session):
    """After the graders ran against the reference, grade every submission with their checks."""
    result = yield
    if _grading(session.config) and not (session.shouldfail or session.shouldstop):
        _grade_submissions(session)
    return result


def _grade_submissions(session: pytest.Session) -> None:
    from dlgrade.grading import replay
    from dlgrade.grading.prefetch import RequestPlan

    config = session.config
    state = config.stash[_state]
    tests = [state["compiled"].get(item.nodeid)  # a test that checks nothing (no grader) just passes
             or replay.CompiledTest(item.nodeid, _title(item), _points(item), _visibility(item))
             for item in session.items if item.nodeid not in state["skipped"]]
    reference = _reference(config)
    plan = RequestPlan()
    for request in replay.requests_in_order(tests):
        plan.add(plan.key(request), request)
    entries = state["submissions"]
    state["forkserver"].ready()  # a sandbox that cannot start fails the run, not every student
    ahead = max(1, config.getoption("--dlgrade-jobs"))
    runners = state["runners"]
    for index, entry in enumerate(entries):
        started = time.monotonic()
        for upcoming in range(index, min(len(entries), index + ahead)):
            if upcoming not in runners:
                runners[upcoming] = _runner(config, reference, entries[upcoming], plan)
                runners[upcoming].start()
        runner = runners.pop(index)
        try:
            results = replay.grade(tests, reference, runner, runner.context)
        finally:
            runner.close()
        header = f"{state['assignment'].name}: {Path(entry['path']).name}"
        _write_results(config, entry["name"], gradescope_results(results, header, time.monotonic() - started))


def _runner(config: pytest.Config, reference: ReferenceSet, entry: dict, plan) -> SubmissionRunner:
    """A runner for the submission ``entry`` (none of its code runs until it is started)."""
    from dlgrade.grading.prefetch import SubmissionRunner
    from dlgrade.supervisor.client import WorkerClient
    from dlgrade.supervisor.submission import load_submission

    assignment = reference.assignment
    sub = load_submission(Path(entry["path"]), assignment.module_name, name=entry["name"])
    client = None
    if not sub.problem:
        client = WorkerClient(sub, assignment.module_name, assignment.forbidden,
                              call_timeout=config.getoption("--dlgrade-timeout"),
                              spawn=config.stash[_state]["forkserver"].spawn, lang=config.getoption("--dlgrade-lang"))
    return SubmissionRunner(sub, client, plan)


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


def _visibility(item: pytest.Item) -> str:
    return PUBLIC if item.get_closest_marker("public") else HIDDEN


def _title(item: pytest.Item) -> str:
    """Docstring's first line (or the function name), or its translation, plus the parameters."""
    doc = (getattr(item, "obj", None).__doc__ or "").strip().splitlines()
    function = getattr(item, "originalname", item.name.split("[")[0])
    title = doc[0].strip() if doc else function
    lang = item.config.getoption("--dlgrade-lang")
    if lang != DEFAULT_LANG:
        state = item.config.stash[_state]
        if state["names"] is None:
            from dlgrade.authoring.translations import assignment_text

            state["names"] = assignment_text(state["assignment"], lang).tests
        title = state["names"].get(function, title)
    callspec = getattr(item, "callspec", None)
    params = [str(v) for v in callspec.params.values()] if callspec else []
    return f"{title} [{', '.join(params)}]" if params else title


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    state = config.stash[_state]
    record = config.getoption("--dlgrade-record")
    if record and state["records"]:
        from dlgrade.exposed import tensorio

        assignment = state["assignment"]
        reference = _reference(config)
        used = sorted({mistake_id for record in state["records"] for check in record["checks"]
                       for mistake_id, _ in check["mistakes"]})
        data = {"assignment": assignment.name, "format": 2, "lang": reference.lang,
                "forbidden": assignment.forbidden, "hints": {m: reference.hints[m] for m in used},
                "tests": tensorio.to_json(state["records"])}
        Path(record).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


def _write_results(config: pytest.Config, name: str, results: dict) -> None:
    """Write ``<results>/<name>/results.json``."""
    results_dir = config.getoption("--dlgrade-results")
    if results_dir:
        write_results(Path(results_dir) / name / "results.json", results)
