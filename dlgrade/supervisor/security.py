"""The README's confinement table, written from the policy: a row per defence, a column per tier.

``tests/test_policy.py`` keeps the README's copy equal to :func:`security_table`, so what the
README claims of each tier is what :data:`~dlgrade.supervisor.policy.POLICY` makes the tiers do.
"""
from __future__ import annotations

from collections.abc import Iterable

from dlgrade.supervisor.policy import POLICY, Place, Policy


def _names(paths: Iterable[str]) -> str:
    quoted = [f"`{p}`" for p in paths]
    return ", ".join(quoted[:-1]) + f" and {quoted[-1]}" if len(quoted) > 1 else "".join(quoted)


def security_table(policy: Policy = POLICY) -> str:
    """The README's confinement table (Markdown): defences by tier (namespaces, container, none)."""
    from dlgrade.exposed.protocol import ANSWERS_PER_SUBMISSION, FROM_WORKER

    limits, scratch = policy.limits, policy.scratch
    first, count = policy.container_uids
    places = {Place.WORKING: "the grader's working folder", Place.KIT: "the folder holding `dlgrade` (the "
              "repository or the kit)", Place.TEMP: "the temporary folder", Place.HOME: "the home folder"}
    hidden = ", ".join([_names(policy.hidden), *(places[p] for p in policy.hidden_places),
                        "every submission's folder and the results folder"])
    seccomp = (f"a seccomp filter (libseccomp through `pyseccomp`) refuses {len(policy.seccomp_denied)} system "
               "calls: no new socket (TCP, UDP, loopback and Unix sockets, abstract ones included: only the one "
               "the protocol made before), no `ptrace`/`process_vm_*`, no mounts, `unshare`, `setns` or `clone` "
               "with namespace flags, no keyrings, `bpf`, `perf_event_open`, `io_uring` or System V IPC")
    rows = [
        ("defence", "namespaces (modes `drop`, `caps`)", "container (mode `container`)", "none (mode `plain`)"),
        ("---", "---", "---", "---"),
        ("chosen when", "bubblewrap is installed and may create namespaces (`.ci/run` and the zip's `setup.sh` "
         "install it)", "no namespaces can be made and the grader is root (Docker's default profile: Gradescope)",
         "no namespaces, not root (as root: refused unless `--allow-unconfined`)"),
        ("who the worker is", f"as root, uid {policy.uid} (`nobody`), no groups; as a user, a user namespace with "
         "no capabilities; no-new-privileges", f"a uid of its own per worker ({first}-{first + count - 1}), no "
         "groups, no-new-privileges", "you, no-new-privileges"),
        ("graders, reference, results, other submissions", f"not there: `/` read-only; {hidden} become empty "
         "in-memory folders; the Python runtime and the dlgrade package are put back read-only",
         "unreadable: the same places lose their permissions for other users before the zygote starts (only "
         "search, not list, on the way to the Python runtime and the scratch folders; put back when the last "
         "session ends); and Landlock, where the kernel has it, lets the worker read only the system folders "
         "and the runtime", "Landlock, where the kernel has it (read only the system folders and the runtime); "
         "without it, readable as your user"),
        ("where it may write", f"a fresh private tmpfs ({scratch.size_mb} MB, {scratch.max_files} files) holding "
         "only its submission", "its own 0700 scratch folder; Landlock: nowhere else",
         "its scratch folder; Landlock: nowhere else (without Landlock: wherever you can)"),
        ("network", f"{seccomp}; and a network namespace holding only loopback", seccomp, seccomp),
        ("nothing survives", "each worker is PID 1 of a PID namespace of its own, killed through a pidfd: the "
         "whole namespace goes, `setsid`/double-fork included", "when a worker exits, everything running as its "
         "uid is killed (`kill(-1)` as that uid, from the zygote, which is the workers' subreaper); every uid used, "
         "when the session ends", "the worker's process group only (a `setsid` escapes)"),
        ("limits", f"per call: wall-clock timeout (`--timeout`, default {policy.call_timeout_s:g} s); per "
         f"submission: a time budget (`--budget`, default {policy.budget_per_timeout:g} x `--timeout`) for all its "
         "calls and reloads; per worker: "
         f"address space (+{limits.memory_mb / 1024:g} GB over Python and torch), CPU {limits.cpu_seconds} s, "
         f"processes (+{limits.processes}), {limits.open_files} open files, {limits.file_size_mb} MB files, no core "
         f"dumps; printed output kept to {limits.printed_chars // 1024} KB per call; what the grader takes from it: "
         f"{FROM_WORKER.decoded // 2**20} MB of tensors per answer (each reference to a blob counted), "
         f"{FROM_WORKER.header // 2**20} MB of the rest, {ANSWERS_PER_SUBMISSION // 2**20} MB of answers per submission",
         "the same", "the same"),
        ("said", "`dlgrade grade` and the Gradescope run print the tier first; each `results.json` records it in "
         "`extra_data.dlgrade_confinement` (students do not see it)", "the same", "the same, with what is not "
         "protected"),
    ]
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)
