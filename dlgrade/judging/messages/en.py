"""English messages (see :mod:`dlgrade.judging.i18n`)."""

MESSAGES = {
    # -- feedback on one check (dlgrade.judging.feedback) --------------------------------------------
    "feedback.called": "Called: {call}",
    "feedback.checked": "Checked: {target}",
    "feedback.hint": "Hint: {hint}",
    # -- what a failure depends on (dlgrade.grading.diagnosis): "it fails with {was}, works with {now}"
    "feedback.two_mistakes": "This answer is what two known mistakes give together:",
    "factor.generic": "it fails with {factor} = {was} and works with {factor} = {now}.",
    "factor.repeat": ("the same call, made twice, gives two different answers: is something random in it "
                      "(F.dropout, which drops values unless training=False, or torch.rand)? Nothing here is random."),
    "factor.dtype.float64": ("it fails in float64 and works in float32: create every tensor and constant in the "
                             "inputs' dtype (x.new_zeros(...), torch.zeros(..., dtype=x.dtype)), not in float32."),
    "factor.dtype.float32": ("it fails in float32 and works in float64: precision is lost somewhere (the log of a "
                             "sum of densities instead of log-sum-exp, or subtracting nearly equal numbers?)."),
    "factor.leading": ("it fails with {was} leading dimension(s) and works with {now}: the function must accept "
                       "any number of leading dimensions (index from the end: K.transpose(-2, -1), not "
                       "K.transpose(1, 2) or K.T)."),
    "factor.batch.1": ("it fails for a batch of 1 and works for a batch of 2: a squeeze() that also drops the "
                       "batch dimension, or a size read from the wrong dimension?"),
    "factor.batch.>1": ("it works for a batch of 1 and fails for larger batches: are the batch elements mixed "
                        "together (a view or reshape in the wrong order, a sum or softmax over the batch)?"),
    "factor.mask.none": ("it fails with mask=None and works with an all-True mask: handle the case where no "
                         "mask is given."),
    "factor.mask.bool>0/1": ("it fails with a bool mask and works with the same mask as 0/1 integers: treat the "
                             "mask as a condition (mask == 0, or ~mask.bool()), not as numbers."),
    "factor.mask.0/1>bool": ("it fails with a 0/1 integer mask and works with the same mask as bool: ~mask and "
                             "masked_fill(mask, ...) need a bool mask; compare instead (mask == 0) or convert "
                             "(mask.bool())."),
    "factor.mask.bool>none": ("it fails with a mask and works without one: check how the mask is applied "
                              "(True/1 = may attend; blocked keys get -inf before the softmax)."),
    "factor.mask.0/1>none": ("it fails with a mask and works without one: check how the mask is applied "
                             "(True/1 = may attend; blocked keys get -inf before the softmax)."),
    "factor.mask_shape": ("it fails with a mask of shape {was} and works with the same mask of shape {now}: "
                          "let the mask broadcast against the scores (no view, reshape or unsqueeze that "
                          "assumes its shape)."),
    "factor.state.given": ("it fails when the initial state is given and works with state=None: is the given "
                           "state used (for an LSTM, (h, c) in this order)?"),
    "factor.state.None": ("it fails with state=None and works when a zero state is given: when no state is "
                          "given, start from zeros of shape [B, H]."),
    "factor.bias.True": ("it fails with bias=True and works with bias=False: are the biases added, each once and "
                         "in the right place?"),
    "factor.bias.False": ("it fails with bias=False and works with bias=True: handle biases that are None "
                          "(nn.Linear(..., bias=False) has none)."),
    "factor.eps.other": "it fails with a non-default eps and works with the default: pass eps on (to the LayerNorms).",
    "factor.eps.default": ("it fails with the default eps and works with another one: is a constant of your own "
                           "used where eps belongs?"),
    "factor.parity.odd": ("it fails for an odd d_model and works for an even one: when d_model is odd, the last "
                          "feature is a sine without a cosine partner (one cosine column fewer)."),
    "factor.parity.even": ("it fails for an even d_model and works for an odd one: check which features get the "
                           "sine (even indices) and which the cosine (odd ones)."),
    "factor.n_Q_n_K.different": ("it fails when n_Q != n_K and works when they are equal: is a size taken from the "
                                 "wrong tensor (the queries' length where the keys' is meant, or the reverse)?"),
    "factor.d_k_d_v.different": ("it fails when d_k != d_v and works when they are equal: is a size taken from V "
                                 "where Q's is meant (scale by sqrt(d_k), the last dimension of Q)?"),
    "factor.n_Q.>1": ("it fails with several queries and works with one: are the queries (dim -2 of Q) mixed "
                      "with the keys, or the softmax taken over the wrong dimension?"),
    "factor.steps.>1": ("it fails for several time steps and works for one: is the state carried from each step "
                        "to the next, and are the outputs stacked along dim 1?"),
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
    "feedback.no_gpu": "Your code asks for a GPU (.cuda(), device=\"cuda\") or mixes devices; the grader runs on the CPU. Make new tensors on the inputs' device instead: x.device, torch.zeros_like(x), x.new_zeros(...).",
    "feedback.error": "Error:\n{error}",
    "feedback.cut": "[... {count} more characters cut]",
    "feedback.load_errors": "What went wrong while your code was loaded:",
    "feedback.see_load_errors": "Your code raised an error while it was loaded (shown above the tests): fix that first.",
    "feedback.inputs_unknown": ("could not tell whether your code modified its inputs "
                                "(the worker's answer is incomplete)"),
    "feedback.input_modified": "your code modified its input {name} in place",
    "feedback.grad_input": "gradient w.r.t. input {name}",
    "feedback.grad_param": "gradient w.r.t. parameter {name}",
    "feedback.grad_unexpected": "{name}: got a gradient where the expected answer has none",
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
    "where.reading your submission": "reading your submission",
    "where.protocol": "talking to the grader",
    "where.loading": "loading your code",
    "where.handling the request": "handling the request",
    "where.returning": "returning the result",
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
    "results.score": "Score: {score} / {max_score}",
    # -- a student's feedback.html (dlgrade.batch.report.feedback_page) ---------------------------
    "page.feedback_title": "Feedback for {name} — {title}",
    "page.score": "Score",
    "page.back_to_report": "back to the report",
    "grading.submission_failed": "this submission could not be graded ({error}): every test scores 0; if you did not expect this, tell your instructor",
    # -- the students' checks (dlgrade.handout.checks, dlgrade check) --------------------------------
    "checks.line": "[{mark}] {name} ({points} pt)",
    "checks.summary": "{passed} of {total} public checks passed.",
    "checks.not_loaded": "Your code could not be loaded, so no check can run: {error}",
    "checks.fix_load_first": "Fix this first: the checks below may fail because of it.",
    "checks.not_run_after_timeout": "not run: an earlier call of {target} timed out (fix that first)",
    # -- the handout (skeleton, notebook, README) --------------------------------------------
    "stub.todo": "TODO: implement {name}",
    "notebook.check_cell": "# Check {target} (public checks only; this cell is not graded and is not submitted)",
    "notebook.submit": """\
## Submitting

Save the notebook and download it, then hand in `{module}.ipynb` as your instructor tells you:

- **Colab**: *File → Download → Download .ipynb*.
- **Kaggle**: *File → Download notebook*.
- **JupyterLab, Jupyter Notebook, VS Code**: the file you have open is the one to hand in (save it
  first); in JupyterLab also *File → Download*.

Keep the name `{module}.ipynb`; outputs, `!pip` lines and `%magics` in it do no harm (the grader
does not run them, nor this notebook's set-up and check cells). With the handout's folder, you can
also run every public check from a terminal there: `python -m dlgrade check {module}.ipynb`.

{hidden}""",
    "notebook.setup": """\
**Set up.** Run the set-up cell below first: it unpacks the public checks this notebook carries
(no network, nothing installed). Colab and Kaggle have torch and numpy already; the checks run on
the CPU or a GPU. On your own machine you need Python 3.11 or newer with torch and numpy:
`pip install -r requirements.txt` in the handout's folder keeps a torch you already have and
otherwise installs PyTorch's CPU build (about 200 MB; a plain `pip install torch` on Linux
downloads a CUDA build of several GB). To open the notebook there, use JupyterLab
(`pip install jupyterlab`, then `jupyter lab`) or VS Code with its Jupyter extension.""",
    "notebook.setup_title": "Set up the public checks (run this cell first)",
    "notebook.setup_comment": """\
Unpacks this notebook's public checks and the program that runs them into a temporary folder:
no network, nothing installed. It is not graded; keep it as it is.""",
    "notebook.setup_changed": "This set-up cell was changed: copy it again from a fresh download of the notebook.",
    "notebook.setup_ready": "The public checks are ready: run the check cell under each part.",
    "notebook.run_setup_first": "Run the set-up cell at the top of the notebook first.",
    "handout.hidden": """\
The public checks include a float64 call, a batch of one and whether your code leaves its inputs
as they were. The graders also check, with inputs you have not seen: every input form the
docstrings allow (other sizes, any number of leading dimensions, masks bool or 0/1 in every
shape they may have, a state given or not, bias on and off, odd and even sizes), gradients
(backpropagation through your code) and that the same call gives the same answer twice (no
randomness). So a passing public check is necessary, not sufficient.""",
    "handout.readme": """\
# {title}

Files: `{m}.ipynb` (the notebook), `{m}.py` (the same code as a plain Python file),
`{m}_checks.json` (the public checks), `dlgrade/` (the program that runs them).

## Set up

You need Python 3.11 or newer. In this folder:

```
python -m venv .venv && . .venv/bin/activate      # optional, recommended (Windows: .venv\\Scripts\\activate)
pip install -r requirements.txt
```

`requirements.txt` keeps a torch you already have (2.2 or newer); without one it installs
PyTorch's CPU build from PyTorch's own index (about 200 MB: a plain `pip install torch` on Linux
downloads a CUDA build of several GB, which this homework does not need). To open the notebook:
JupyterLab (`pip install jupyterlab`, then `jupyter lab`) or VS Code with its Jupyter extension.
Or work in `{m}.py` with any editor.

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

{hidden}

## Submit

Upload `{m}.ipynb` (or `{m}.py`) to Gradescope, as your instructor tells you. Only that file is
graded; keep its name.
""",
}
