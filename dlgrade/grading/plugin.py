"""pytest plugin that turns the graders in ``autograder/<name>/`` into a grading run.

Enable it with ``-p dlgrade.grading.plugin``. Every grader test runs **once**, against the
reference, and its checks are recorded (:class:`~dlgrade.grading.recorder.CheckRecorder`). What
happens then is the run's mode, one class each, registered with pytest's plugin manager when the
session is configured (as pytest's own ``capture`` and ``terminal`` plugins are):

- :class:`GradingRun` (``--dlgrade-manifest``): after the graders ran, the recorded tests are
  replayed against every submission (:mod:`dlgrade.grading.scoring`), each submission in a worker
  of its own forked from one zygote per session
  (:class:`~dlgrade.supervisor.forkserver.Forkserver`, started when the session starts, so
  ``import torch`` in a worker is paid once), ``--dlgrade-jobs`` workers at once answering ahead
  (:mod:`dlgrade.grading.prefetch`). Each submission's ``results.json`` is written as soon as it
  is graded. A grader that fails against the reference is a grader error: it scores 0 for
  everyone, with a message asking students to tell their instructor.
- :class:`RecordRun` (``--dlgrade-record``): the public graders' checks, with the catalogued
  mistakes' answers, are written as the checks students get with the handout.

Options are read once, into a frozen :class:`PluginOptions` (what to grade) holding the
:class:`~dlgrade.grading.options.GradingOptions` the command line carried (how).

Markers: ``@pytest.mark.points(n)`` (default 1) and ``@pytest.mark.public`` (visible to students
and shipped in their local checks; unmarked graders are hidden until the scores are published).
"""
from __future__ import annotations

import gc
import json
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from dlgrade.authoring.registry import Assignment, get_assignment
from dlgrade.grading.options import GradingOptions, default_jobs
from dlgrade.grading.results import TestResult, gradescope_results, write_results
from dlgrade.judging.i18n import DEFAULT_LANG, LANGS, Messages
from dlgrade.judging.replay import HIDDEN, PUBLIC, RecordedTest
from dlgrade.supervisor.forkserver import Forkserver
from dlgrade.supervisor.policy import POLICY

if TYPE_CHECKING:  # imported where used: this module imports no torch, so the zygote (started in
    # pytest_configure) imports it while this process does the same during collection
    from dlgrade.grading.oracle import ReferenceOracle
    from dlgrade.grading.prefetch import AnswerPrefetcher, RequestPlan
    from dlgrade.grading.recorder import CheckRecorder

RUN = pytest.StashKey["GraderRun"]()
PEAK_MEMORY_LINE = "dlgrade: peak memory of this grading session (the trusted process):"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dlgrade")
    group.addoption("--dlgrade-assignment", help="assignment being graded (rnn, attention, ...)")
    group.addoption("--dlgrade-manifest", help="JSON list of {name, path} submissions to grade")
    group.addoption("--dlgrade-results", help="folder for <name>/results.json")
    group.addoption("--dlgrade-record", help="write the public checks (JSON) here instead of grading")
    group.addoption("--dlgrade-record-all", action="store_true",
                    help="with --dlgrade-record: record every grader, the hidden ones too (to validate probes)")
    group.addoption("--dlgrade-timeout", type=float, default=POLICY.call_timeout_s,
                    help="seconds per call into student code")
    group.addoption("--dlgrade-budget", type=float, default=None,
                    help="seconds a submission's workers may spend in all (default: a multiple of the timeout)")
    group.addoption("--dlgrade-jobs", type=int, default=default_jobs(),
                    help="submissions whose workers run at once (the current one and the next ones)")
    group.addoption("--dlgrade-lang", default=DEFAULT_LANG, choices=LANGS,
                    help="language of what students read: test names, feedback, hints")


@dataclass(frozen=True)
class PluginOptions:
    """What this pytest session was asked to do, read once from its command line."""

    assignment: str | None
    manifest: Path | None
    results: Path | None
    record: Path | None
    grading: GradingOptions

    @classmethod
    def from_config(cls, config: pytest.Config) -> PluginOptions:
        def path(option: str) -> Path | None:
            value = config.getoption(option)
            return Path(value) if value else None

        return cls(config.getoption("--dlgrade-assignment"), path("--dlgrade-manifest"), path("--dlgrade-results"),
                   path("--dlgrade-record"), GradingOptions.from_pytest(config))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "points(n): points this grader is worth (default 1)")
    config.addinivalue_line("markers", "public: students see this grader and get it as a local check")
    options = PluginOptions.from_config(config)
    entries = json.loads(options.manifest.read_text()) if options.manifest else []
    if entries and options.assignment:
        run: GraderRun = GradingRun(config, options, entries)
    elif options.record:
        run = RecordRun(config, options)
    else:
        run = GraderRun(config, options)
    config.stash[RUN] = run
    config.pluginmanager.register(run, "dlgrade-run")


@pytest.fixture(scope="session")
def dlgrade_reference(pytestconfig: pytest.Config) -> ReferenceOracle:
    """The reference solution and its catalogued mistakes, loaded once per session."""
    return pytestconfig.stash[RUN].reference()


@pytest.fixture
def grader(request: pytest.FixtureRequest, dlgrade_reference: ReferenceOracle) -> CheckRecorder:
    """Records the checks of the grader test that asks for it (see :mod:`dlgrade.grading.recorder`)."""
    return request.config.stash[RUN].recorder_for(request.node)


class GraderRun:
    """A session that runs the graders: the assignment, its reference and each test's record.
    On its own (neither grading nor recording) it refuses to run a grader."""

    def __init__(self, config: pytest.Config, options: PluginOptions) -> None:
        self.config = config
        self.options = options
        self.assignment: Assignment | None = get_assignment(options.assignment) if options.assignment else None
        self._reference: ReferenceOracle | None = None
        self._translated_titles: dict[str, str] | None = None

    @property
    def lang(self) -> str:
        return self.options.grading.lang

    def reference(self) -> ReferenceOracle:
        if self._reference is None:
            from dlgrade.grading.oracle import ReferenceOracle

            if self.assignment is None:
                pytest.fail("--dlgrade-assignment is required to run the graders")
            self._reference = ReferenceOracle(self.assignment, self.lang)
        return self._reference

    def recorder_for(self, node: pytest.Item) -> CheckRecorder:
        pytest.fail("nothing to do: pass --dlgrade-manifest (grade) or --dlgrade-record (public checks)")

    def record_of(self, item: pytest.Item) -> RecordedTest:
        """An empty record of the grader test ``item``: its id, title, points and visibility."""
        marker = item.get_closest_marker("points")
        points = float(marker.args[0]) if marker else 1.0
        visibility = PUBLIC if item.get_closest_marker("public") else HIDDEN
        return RecordedTest(item.nodeid, self.title(item), points, visibility)

    def title(self, item: pytest.Item) -> str:
        """Docstring's first line (or the function name), or its translation, plus the parameters."""
        doc = (getattr(item, "obj", None).__doc__ or "").strip().splitlines()
        function = getattr(item, "originalname", item.name.split("[")[0])
        title = doc[0].strip() if doc else function
        if self.lang != DEFAULT_LANG and self.assignment is not None:
            if self._translated_titles is None:
                from dlgrade.authoring.translations import assignment_text

                self._translated_titles = assignment_text(self.assignment, self.lang).tests
            title = self._translated_titles.get(function, title)
        callspec = getattr(item, "callspec", None)
        params = [str(v) for v in callspec.params.values()] if callspec else []
        return f"{title} [{', '.join(params)}]" if params else title

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        gc.freeze()  # the session ends: spare the interpreter's final collections (~0.4 s with torch)


class RecordRun(GraderRun):
    """Record mode: run the public graders and write what they checked as the students' checks."""

    def __init__(self, config: pytest.Config, options: PluginOptions) -> None:
        super().__init__(config, options)
        self.records: list[RecordedTest] = []

    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        if config.getoption("--dlgrade-record-all"):
            return
        keep = [i for i in items if i.get_closest_marker("public")]
        config.hook.pytest_deselected(items=[i for i in items if i not in keep])
        items[:] = keep

    def recorder_for(self, node: pytest.Item) -> CheckRecorder:
        from dlgrade.grading.recorder import CheckRecorder

        record = self.record_of(node)
        self.records.append(record)
        return CheckRecorder(self.reference(), record, with_mistakes=True)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self.records or self.assignment is None or self.options.record is None:
            return
        from dlgrade.handout.checks import ChecksFile

        reference = self.reference()
        used = sorted({mistake_id for record in self.records for check in record.checks
                       for mistake_id, _ in check.mistakes or ()})
        checks = ChecksFile(self.assignment.name, reference.lang, self.assignment.forbidden,
                            {m: reference.hints[m] for m in used}, self.records)
        self.options.record.write_text(checks.to_json())


class GradingRun(GraderRun):
    """Grading mode: after the graders ran against the reference, grade every submission."""

    def __init__(self, config: pytest.Config, options: PluginOptions, entries: list[dict]) -> None:
        super().__init__(config, options)
        self.entries = entries
        self.recorded: dict[str, RecordedTest] = {}
        self.skipped: set[str] = set()
        self.prefetchers: dict[int, AnswerPrefetcher] = {}
        # start the zygote now: it imports torch while pytest collects the graders
        self.forkserver = Forkserver(hide=self._private_paths())
        # the threads that feed the workers wait for the GIL while the graders are judged; let
        # them have it within 0.5 ms instead of the default 5 ms, so the workers are not kept waiting
        sys.setswitchinterval(0.0005)

    def _private_paths(self) -> tuple[Path, ...]:
        """What no worker may see: the assignment's files, the results, every submission's folder."""
        assert self.assignment is not None
        paths = [self.assignment.root, *(Path(e["path"]).resolve().parent for e in self.entries)]
        if self.options.results:
            paths.append(self.options.results)
        return tuple(paths)

    def recorder_for(self, node: pytest.Item) -> CheckRecorder:
        from dlgrade.grading.recorder import CheckRecorder

        record = self.recorded[node.nodeid] = self.record_of(node)
        return CheckRecorder(self.reference(), record)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        """A grader that fails against the reference is a grader error, for every submission."""
        report = yield
        if report.skipped:
            self.skipped.add(item.nodeid)
        elif report.failed and report.when in ("setup", "call"):
            exc = call.excinfo.value if call.excinfo else None
            record = self.recorded.setdefault(item.nodeid, self.record_of(item))
            record.error = Messages(self.lang)("grading.grader_error", error=f"{type(exc).__name__}: {exc}")
        return report

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session):
        """After the graders ran against the reference, grade every submission with their checks."""
        result = yield
        if not (session.shouldfail or session.shouldstop):
            self._grade_submissions(session)
        return result

    def _grade_submissions(self, session: pytest.Session) -> None:
        from dlgrade.grading.prefetch import RequestPlan
        from dlgrade.grading.scoring import score_submission
        from dlgrade.judging.replay import requests_in_order

        tests = [self.recorded.get(item.nodeid) or self.record_of(item)  # a test that checks nothing just passes
                 for item in session.items if item.nodeid not in self.skipped]
        reference = self.reference()
        plan = RequestPlan()
        for request in requests_in_order(tests):
            plan.add(plan.key(request), request)
        self.forkserver.ready()  # a sandbox that cannot start fails the run, not every student
        ahead = self.options.grading.jobs
        for index, entry in enumerate(self.entries):
            started = time.monotonic()
            for upcoming in range(index, min(len(self.entries), index + ahead)):
                if upcoming not in self.prefetchers:
                    self.prefetchers[upcoming] = self._started_prefetcher(reference, self.entries[upcoming], plan)
            prefetcher = self.prefetchers.pop(index)
            header = f"{reference.assignment.name}: {Path(entry['path']).name}"
            try:  # each submission is a unit that fails alone: its classmates are still graded
                if isinstance(prefetcher, BaseException):
                    raise prefetcher
                results = score_submission(tests, reference, prefetcher, prefetcher.context, prefetcher.diagnose)
                load_errors = prefetcher.context()
            except Exception as exc:
                results, load_errors = self._failed(tests, entry, exc), ""
            finally:
                if not isinstance(prefetcher, BaseException):
                    prefetcher.close()
            if self.options.results:
                write_results(self.options.results / entry["name"] / "results.json",
                              gradescope_results(results, header, time.monotonic() - started,
                                                 self.forkserver.confinement(), lang=self.lang,
                                                 load_errors=load_errors))

    def _started_prefetcher(self, reference: ReferenceOracle, entry: dict, plan: RequestPlan
                            ) -> AnswerPrefetcher | Exception:
        """The entry's prefetcher, started; or what went wrong (kept for when its turn comes)."""
        try:
            prefetcher = self._prefetcher(reference, entry, plan)
            prefetcher.start()
            return prefetcher
        except Exception as exc:
            return exc

    def _failed(self, tests: list[RecordedTest], entry: dict, exc: BaseException) -> list[TestResult]:
        """Every test at 0 with one line saying why; the traceback goes to the log (grading.log)."""
        from dlgrade.grading.scoring import checked_target
        from dlgrade.supervisor.submission import one_line

        print(f"dlgrade: grading {entry['name']} failed:", file=sys.stderr)
        traceback.print_exception(exc, file=sys.stderr)
        why = Messages(self.lang)("grading.submission_failed",
                                  error=one_line(f"{type(exc).__name__}: {exc}"))
        return [TestResult(t.name, 0.0, t.points, why, t.visibility, target=checked_target(t)) for t in tests]

    def _prefetcher(self, reference: ReferenceOracle, entry: dict, plan: RequestPlan) -> AnswerPrefetcher:
        """The prefetcher of the submission ``entry`` (none of its code runs until it is started)."""
        from dlgrade.grading.prefetch import AnswerPrefetcher
        from dlgrade.supervisor.client import WorkerClient
        from dlgrade.supervisor.submission import load_submission

        assignment = reference.assignment
        sub = load_submission(Path(entry["path"]), assignment.module_name, name=entry["name"])
        client = None
        if not sub.problem:
            client = WorkerClient(sub, assignment.module_name, assignment.forbidden,
                                  call_timeout=self.options.grading.timeout, spawn=self.forkserver.spawn,
                                  lang=self.lang, budget=self.options.grading.budget_s)
        return AnswerPrefetcher(sub, client, plan)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        import resource

        for prefetcher in self.prefetchers.values():  # started ahead, never reached (an interrupted run)
            prefetcher.close()
        self.forkserver.close()
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024  # KiB on Linux
        print(f"{PEAK_MEMORY_LINE} {peak_mb} MB", file=sys.stderr)  # into grading.log
        super().pytest_unconfigure(config)
