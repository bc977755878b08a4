"""English messages (see :mod:`dlgrade.judging.i18n`)."""

MESSAGES = {
    # -- feedback on one check (dlgrade.judging.feedback) --------------------------------------------
    "feedback.called": "Called: {call}",
    "feedback.checked": "Checked: {target}",
    "feedback.hint": "Hint: {hint}",
    "feedback.call_module": "{target}({init}) in {dtype}, then .{method}{call}",
    "feedback.expected_tensor": "{name}: expected a tensor {expected}, got {got}",
    "feedback.expected_shape": "{name}: expected shape {expected}, got {got}",
    "feedback.expected_dtype": "{name}: expected dtype {expected}, got {got}",
    "feedback.expected_value": "{name}: expected {expected}, got {got}",
    "feedback.values_differ": "{name}: {count} of {total} values differ, first at {where}",
    "feedback.not_finite": "{name}: got {got} at {where} where a finite value was expected",
    "feedback.other_value": "{name}: got {got} at {where} where {expected} was expected",
    "feedback.values_off": ("{name}: max abs error {error} at {where} (expected {expected}, got {got}); "
                            "{count} of {total} values are off (atol {atol}, rtol {rtol})"),
    "feedback.forbidden": ("your code uses {used}, which this assignment asks you to implement yourself; "
                           "tests that run it score 0"),
    "feedback.error_while": "Error (while {where}):\n{error}",
    "feedback.cut": "[... {count} more characters cut]",
    "feedback.load_errors": "What went wrong while your code was loaded:",
    "feedback.inputs_unknown": ("could not tell whether your code modified its inputs "
                                "(the worker's answer is incomplete)"),
    "feedback.input_modified": "your code modified its input {name} in place",
    "feedback.grad_input": "gradient w.r.t. input {name}",
    "feedback.grad_param": "gradient w.r.t. parameter {name}",
    "feedback.grad_missing": ("{name}: missing (the output does not depend on it through autograd: "
                              ".detach(), .data, torch.no_grad() or a value rebuilt from numpy?)"),
    "feedback.cannot_inspect": "could not inspect your code",
    "feedback.not_defined": "{target} is not defined in your code",
    "feedback.wrong_kind": "{target} should be a {expected}, but it is a {got}",
    "feedback.wrong_signature": "{label} should take ({expected}), got {got}",
    "feedback.signature_missing": "missing",
    "feedback.not_a_module": "{target} must subclass torch.nn.Module",
    "kind.class": "class",
    "kind.function": "function",
    "kind.other": "value that is neither a class nor a function",
    # what was going on when a call failed ("... (while calling)")
    "where.building": "building",
    "where.calling": "calling",
    "where.computing gradients": "computing gradients",
    "where.running": "running",
    "where.reading your submission": "reading your submission",
    "where.protocol": "talking to the grader",
    # -- the worker that runs student code (dlgrade.supervisor.client) ---------------------------
    "worker.budget": ("this submission used up its time budget of {seconds} s (every call and restart "
                      "together) while {doing}; the tests not answered by then score 0"),
    "worker.too_much": ("your code's answers to this submission's checks came to more than {mb} MB "
                        "in all (huge outputs?); the checks not answered by then fail"),
    "worker.stopped": "grading of this submission was stopped",
    "worker.not_started": "the worker process could not be started",
    "worker.timeout": "timed out after {seconds} s while {doing} (an infinite loop?)",
    "worker.ended": ("your code ended the worker process while {doing} "
                     "(exit status {code}; sys.exit, os._exit or a crash?)"),
    "worker.invalid": "the worker sent an invalid answer while {doing}",
    "worker.invalid_detail": "the worker sent an invalid answer while {doing}: {detail}",
    "doing.starting": "starting the worker",
    "doing.loading": "loading your code",
    "doing.running": "running your code",
    "load.error": "While loading your code, {label} raised {error}",
    "grading.grader_error": "grader error ({error}); please tell your instructor",
    "grading.submission_failed": "this submission could not be graded ({error}): every test scores 0; if you did not expect this, tell your instructor",
    # -- the students' checks (dlgrade.handout.checks, dlgrade check) --------------------------------
    "checks.line": "[{mark}] {name} ({points} pt)",
    "checks.summary": "{passed} of {total} public checks passed.",
    # -- the handout (skeleton, notebook, README) --------------------------------------------
    "stub.todo": "TODO: implement {name}",
    "notebook.check_cell": "# Check {target} (public checks only; this cell is not graded and is not submitted)",
    "notebook.submit": """\
## Submitting

Save the notebook, then hand in `{module}.ipynb` (or `{module}.py`, which holds the same code) as
your instructor tells you. Before that, you can run every public check from a terminal:

```
dlgrade check {module}.ipynb
```

The graders run more checks than these public ones (other shapes, float64, gradients, ...).""",
    "handout.readme": """\
# {title}

Files: `{m}.ipynb` (the notebook), `{m}.py` (the same code as a plain Python file),
`{m}_checks.json` (the public checks), `dlgrade/` (the program that runs them).

## Set up

```
python -m venv .venv && . .venv/bin/activate      # optional, recommended
pip install -r requirements.txt
```

## Do the assignment

Work in **either** the notebook or the `.py` file. Fill in every body that raises
`NotImplementedError` (each has TODO comments that explain the steps). Do not change the given
`__init__` methods, names or signatures.

## Check your work

- In the notebook: run the check cell under each part. It prints `[PASS]`/`[FAIL]` for every
  public check; a failure says what was called, what was expected and what came back, and a
  `Hint:` line when your output matches a well-known mistake.
- In a terminal, in this folder: `python -m dlgrade check {m}.py` (or `{m}.ipynb`). Exit status
  0 means every public check passes.

The graders run more checks than these (other shapes, float64, gradients, inputs left unchanged),
so a passing public check is necessary, not sufficient.

## Submit

Upload `{m}.ipynb` (or `{m}.py`) to Gradescope, as your instructor tells you. Only that file is
graded; keep its name.
""",
}
