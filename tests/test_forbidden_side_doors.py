"""Forbidden torch built-ins reached by side doors (aten overloads, private variants, computed
names, aliases, a patched protocol) are caught by the worker's detectors and by the trusted
side's static scan; the references, the handed-out stubs and the catalogued mistakes never are."""
from __future__ import annotations

import pytest
import torch

from dlgrade.authoring.mistakes import module_from_source
from dlgrade.authoring.registry import ASSIGNMENTS, get_assignment
from dlgrade.exposed import execute
from dlgrade.exposed.tripwires import ForbiddenNames, base_name
from dlgrade.grading.oracle import ReferenceOracle
from dlgrade.handout.checks import load_checks
from dlgrade.judging.source_scan import MAX_SCAN_CHARS, MODULE, scan_source, with_scan_findings

from forbidden_attacks import PATCHES_THE_PROCESS, attacked_target, attacks

GUARDED = [name for name in ASSIGNMENTS if get_assignment(name).forbidden]
ATTACKS = [(name, attack) for name in GUARDED for attack in attacks(name)]
IN_PROCESS = [(name, attack) for name, attack in ATTACKS if attack not in PATCHES_THE_PROCESS]
ATTENTION = get_assignment("attention").forbidden
SDPA = ATTENTION["scaled_dot_product_attention"]


def _id(pair: tuple[str, str]) -> str:
    return "-".join(pair)


def call_requests(name: str, target: str) -> list[dict]:
    """The public checks' call requests for ``target`` (real probes, as graders send them)."""
    assignment = get_assignment(name)
    checks = load_checks(assignment.template_dir / assignment.checks_filename)
    return [c.request for t in checks.tests for c in t.checks
            if c.request.get("op") == "call" and c.request["target"] == target]


def run_all(source: str, name: str, target: str) -> list[dict]:
    namespace = module_from_source(source, f"_side_door_{name}", "<side door>").__dict__
    forbidden = get_assignment(name).forbidden
    return [execute.run(namespace, request, forbidden) for request in call_requests(name, target)]


def clean_sources(name: str) -> dict[str, str]:
    """The reference, the handed-out stub and every catalogued mistake of ``name``."""
    assignment = get_assignment(name)
    oracle = ReferenceOracle(assignment)
    sources = {"reference": assignment.reference_source,
               "stub": (assignment.template_dir / f"{assignment.module_name}.py").read_text()}
    sources.update({f"mistake {m.id}": oracle.mistake_source(m) for m in assignment.mistakes})
    return sources


@pytest.fixture(params=ASSIGNMENTS)
def clean(request) -> tuple[str, dict[str, str]]:
    return request.param, clean_sources(request.param)


# -- every side door, both layers -----------------------------------------------------------------

def test_every_guarded_assignment_has_side_doors_for_its_targets():
    assert set(GUARDED) == {"rnn", "attention", "transformer"}
    for name in GUARDED:
        targets = {attacked_target(name, attack) for attack in attacks(name)}
        assert targets <= {q.target for q in get_assignment(name).questions}
        assert len(targets) >= 1 and "send_patch" in attacks(name)


@pytest.mark.parametrize("name, attack", ATTACKS, ids=_id)
def test_the_scan_flags_every_side_door(name, attack):
    forbidden = get_assignment(name).forbidden
    scan = scan_source([(f"{name}.py", attacks(name)[attack])], forbidden)
    labels = scan.forbidden_for(attacked_target(name, attack))
    assert labels and set(labels) <= set(forbidden.values()), scan.findings
    assert not scan.unscanned


@pytest.mark.parametrize("name, attack", IN_PROCESS, ids=_id)
def test_the_worker_detects_every_side_door_it_runs(name, attack):
    answers = run_all(attacks(name)[attack], name, attacked_target(name, attack))
    assert answers
    for answer in answers:
        assert answer["forbidden"], answer
        assert set(answer["forbidden"]) <= set(get_assignment(name).forbidden.values())


@pytest.mark.parametrize("name", GUARDED)
def test_the_send_patch_is_flagged_by_the_scan_whatever_the_worker_sends(name):
    """The worker's own answer loses ``"forbidden"``: merging the scan puts it back."""
    source = attacks(name)["send_patch"]
    target = attacked_target(name, "send_patch")
    scan = scan_source([(f"{name}.py", source)], get_assignment(name).forbidden)
    request = call_requests(name, target)[0]
    stripped = {"ok": True, "out": None, "printed": ""}  # what the patched send lets through
    assert with_scan_findings(request, stripped, scan)["forbidden"] == scan.forbidden_for(target) != []


# -- no false positives ---------------------------------------------------------------------------

def test_the_scan_finds_nothing_in_references_stubs_and_mistakes(clean):
    name, sources = clean
    forbidden = get_assignment(name).forbidden
    for what, source in sources.items():
        scan = scan_source([(f"{name}.py", source)], forbidden)
        assert not scan.findings and not scan.unscanned, (what, scan.findings)


@pytest.mark.parametrize("name", GUARDED)
def test_the_worker_flags_nothing_in_the_reference_and_mistakes(name):
    sources = clean_sources(name)
    del sources["stub"]  # raises NotImplementedError: nothing to run
    for target in {q.target for q in get_assignment(name).questions}:
        for what, source in sources.items():
            for answer in run_all(source, name, target):
                assert answer.get("forbidden") == [], (what, target, answer)


def test_own_softmax_and_matmul_are_not_flagged():
    source = (
        "import torch\n"
        "def scaled_dot_product_attention(Q, K, V, mask=None):\n"
        "    s = torch.matmul(Q, K.transpose(-2, -1)) / Q.shape[-1] ** 0.5\n"
        "    e = torch.exp(s - s.amax(-1, keepdim=True))\n"
        "    a = e / e.sum(-1, keepdim=True)\n"
        "    return torch.einsum('...qk,...kd->...qd', a, V), torch.nn.functional.softmax(s, -1)\n"
    )
    q = torch.randn(2, 3, 4)
    request = {"op": "call", "target": "scaled_dot_product_attention", "init": None, "dtype": "float32",
               "method": "forward", "args": [q, q, q], "kwargs": {}, "grad_outputs": None, "state_dict": None}
    namespace = module_from_source(source, "_own", "<own>").__dict__
    assert execute.run(namespace, request, ATTENTION)["forbidden"] == []
    assert scan_source([("own.py", source)], ATTENTION).findings == []


# -- the worker's detectors -----------------------------------------------------------------------

@pytest.mark.parametrize("spelling, base", [
    ("scaled_dot_product_attention.default", "scaled_dot_product_attention"),
    ("aten::_scaled_dot_product_flash_attention_for_cpu", "scaled_dot_product_flash_attention_for_cpu"),
    ("aten._thnn_fused_lstm_cell.default", "thnn_fused_lstm_cell"),
    ("lstm.input", "lstm"),
])
def test_base_names_drop_namespace_overload_and_underscores(spelling, base):
    assert base_name(spelling) == base


def test_names_map_private_and_aten_variants_to_their_label():
    rnn = get_assignment("rnn").forbidden
    names = ForbiddenNames({**ATTENTION, **rnn})
    for variant in ("_scaled_dot_product_attention_math", "_scaled_dot_product_flash_attention_for_cpu",
                    "_scaled_dot_product_efficient_attention", "aten::_flash_attention_forward"):
        assert names.label(variant) == SDPA
    assert names.label("_thnn_fused_lstm_cell_backward") == rnn["lstm_cell"]
    assert names.label("aten::mkldnn_rnn_layer") == rnn["lstm"]
    assert names.label("_native_multi_head_attention") == ATTENTION["_native_multi_head_attention"]
    for innocent in ("softmax", "_safe_softmax", "bmm", "matmul", "log_softmax", "lstm_weights", None, 3):
        assert names.label(innocent) is None


def _call(fn, *args) -> dict:
    request = {"op": "call", "target": "f", "init": None, "dtype": "float32", "method": "forward",
               "args": list(args), "kwargs": {}, "grad_outputs": None, "state_dict": None}
    return execute.run({"f": fn}, request, ATTENTION)


def test_the_dispatch_mode_sees_aten_ops_with_torch_function_disabled():
    def hidden(q):
        with torch._C.DisableTorchFunction():
            return torch.ops.aten.scaled_dot_product_attention.default(q, q, q)

    assert _call(hidden, torch.randn(1, 2, 3, 4))["forbidden"] == [SDPA]


def test_modules_are_reported_as_themselves_not_as_what_they_run():
    layer = torch.nn.MultiheadAttention(4, 2, batch_first=True)
    answer = _call(lambda x: layer(x, x, x, need_weights=False)[0], torch.randn(1, 3, 4))  # runs sdpa inside
    assert answer["forbidden"] == [ATTENTION["multi_head_attention_forward"]]


# -- the scan's rules -----------------------------------------------------------------------------

def scan(source: str, forbidden=ATTENTION, label: str = "t.py"):
    return scan_source([(label, source)], forbidden)


HEADER = "import torch\nimport torch.nn.functional as F\n"


@pytest.mark.parametrize("body", [
    "F.scaled_dot_product_attention(q, q, q)",
    "torch.nn.functional.scaled_dot_product_attention(q, q, q)",
    "torch.ops.aten.scaled_dot_product_attention.default(q, q, q)",
    "torch._C._nn.scaled_dot_product_attention(q, q, q)",
    "[F][0].scaled_dot_product_attention(q, q, q)",
    "getattr(F, 'scaled_dot_' 'product_attention')(q, q, q)",
    "getattr(F, ''.join(['scaled', '_dot_product', '_attention']))(q, q, q)",
    "getattr(F, 'noitnetta_tcudorp_tod_delacs'[::-1])(q, q, q)",
    "getattr(F, f\"{'scaled'}_dot_product_attention\")(q, q, q)",
    "vars(F)['scaled_dot_product_attention'](q, q, q)",
    "F.__dict__['scaled_dot_product_attention'](q, q, q)",
    "__import__('torch').nn.functional.scaled_dot_product_attention(q, q, q)",
    "__import__('importlib').import_module('torch.nn.functional').scaled_dot_product_attention(q, q, q)",
    "__import__('sys').modules['torch.nn.functional'].scaled_dot_product_attention(q, q, q)",
    "torch._C._jit_get_operation('aten::scaled_dot_product_attention')",
    "torch.nn.MultiheadAttention(4, 2)(q, q, q)",
    "exec('import torch\\ntorch._scaled_dot_product_attention_math(q, q, q)')",
    "{'f': F}['f'].scaled_dot_product_attention(q, q, q)",
    "F.__getattribute__('scaled_dot_product_attention')(q, q, q)",
    "getattr(F, '__getattribute__')('scaled_dot_product_attention')(q, q, q)",
    "vars(F).get('scaled_dot_product_attention')(q, q, q)",
    "__builtins__['exec']('F.scaled_dot_product_attention(q, q, q)')",
    "eval(compile('F.scaled_dot_product_attention(q, q, q)', 'x', 'eval'))",
])
def test_the_scan_flags_spellings(body):
    result = scan(HEADER + f"def f(q):\n    return {body}\n")
    assert result.forbidden_for("f"), result.findings


@pytest.mark.parametrize("body", [
    "getattr(F, name)(q, q, q)",
    "getattr(torch.ops.aten, name)(q, q, q)",
    "torch.ops.aten.__getattr__(name)(q, q, q)",
    "__import__(name)",
    "exec(name)",
])
def test_a_lookup_the_scan_cannot_read_stands_for_every_label(body):
    result = scan(HEADER + f"def f(q, name):\n    return {body}\n")
    assert result.forbidden_for("f") == list(dict.fromkeys(ATTENTION.values()))


def test_aliases_of_every_kind_are_followed():
    sources = [
        "from torch.nn.functional import scaled_dot_product_attention as fast\ndef f(q):\n    return fast(q, q, q)\n",
        "from torch.nn import functional as nnf\ndef f(q):\n    return nnf.scaled_dot_product_attention(q, q, q)\n",
        HEADER + "G = F\ndef f(q):\n    return G.scaled_dot_product_attention(q, q, q)\n",
        HEADER + "class M:\n    def __init__(self):\n        self.impl = F\n"
                 "def f(q):\n    return M().impl.scaled_dot_product_attention(q, q, q)\n",
        HEADER + "def f(q, G=F):\n    return G.scaled_dot_product_attention(q, q, q)\n",
        "from torch.nn.functional import *\ndef f(q):\n    return scaled_dot_product_attention(q, q, q)\n",
    ]
    for source in sources:
        assert scan(source).forbidden_for("f") == [SDPA], source


def test_comments_docstrings_and_free_text_are_not_findings():
    source = (
        '"""Do not use torch.nn.functional.scaled_dot_product_attention or nn.MultiheadAttention."""\n'
        "import torch\n"
        "# F.scaled_dot_product_attention would be cheating\n"
        "def f(q):\n"
        "    '''Like scaled_dot_product_attention.'''\n"
        "    print('scaled_dot_product_attention')\n"
        "    return {'scaled_dot_product_attention': q}\n"
    )
    assert scan(source).findings == []


def test_the_students_own_names_are_not_findings():
    source = (
        "import torch.nn as nn\n"
        "class LSTMCell(nn.Module):\n    pass\n"
        "class LSTM(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n        self.lstm = LSTMCell()\n"
        "        self.add_module('gru', LSTMCell())\n"
        "    def forward(self, x):\n        return self.lstm(x), getattr(self, 'lstm'), self.gru(x)\n"
    )
    assert scan(source, get_assignment("rnn").forbidden).findings == []


def test_findings_spread_to_the_names_that_use_them():
    source = HEADER + (
        "def helper(q):\n    return F.scaled_dot_product_attention(q, q, q)\n"
        "def middle(q):\n    return helper(q)\n"
        "class Top:\n    def forward(self, q):\n        return middle(q)\n"
        "def clean(q):\n    return q\n"
        "Other = Top\n"
    )
    result = scan(source)
    assert {t: result.forbidden_for(t) for t in ("helper", "middle", "Top", "Other", "clean")} == {
        "helper": [SDPA], "middle": [SDPA], "Top": [SDPA], "Other": [SDPA], "clean": []}


@pytest.mark.parametrize("source", [
    HEADER + "torch.softmax = lambda s, dim: F.scaled_dot_product_attention(s, s, s)\n",
    HEADER + "class Patch:\n    torch.softmax = F.scaled_dot_product_attention\n",
    HEADER + "@(lambda fn: F.scaled_dot_product_attention and fn)\ndef g():\n    pass\n",
    HEADER + "if True:\n    F.scaled_dot_product_attention\n",
])
def test_code_run_at_import_taints_every_target(source):
    result = scan(source + "def clean(q):\n    return q\n")
    assert result.forbidden_for("clean") == [SDPA] and result.tainted[MODULE] == [SDPA]


@pytest.mark.parametrize("source", [
    HEADER + "def patch():\n    global clean\n    clean = lambda q: F.scaled_dot_product_attention(q, q, q)\npatch()\n",
    HEADER + "def patch():\n    Other.forward = lambda self, q: F.scaled_dot_product_attention(q, q, q)\n"
             "def outer():\n    patch()\nouter()\n",
    HEADER + "setattr(Other, 'forward', F.scaled_dot_product_attention)\n",
    HEADER + "setattr(Other, 'forward', lambda self, q: F.scaled_dot_product_attention(q, q, q))\n",
])
def test_a_call_at_import_that_can_patch_taints_every_target(source):
    result = scan("class Other:\n    pass\n" + source + "def clean(q):\n    return q\n")
    assert result.forbidden_for("clean") == [SDPA], result.tainted


@pytest.mark.parametrize("source", [
    HEADER + "q = torch.randn(2, 3, 4)\nprint(torch.allclose(clean(q), F.scaled_dot_product_attention(q, q, q)))\n",
    HEADER + "q = torch.randn(2, 3, 4)\nwant = F.scaled_dot_product_attention(q, q, q)\n",
    HEADER + "def compare():\n    q = torch.randn(2, 3, 4)\n    return F.scaled_dot_product_attention(q, q, q)\n"
             "print(compare())\n",
    HEADER + "if __name__ == '__main__':\n    mha = torch.nn.MultiheadAttention(4, 2)\n    F.scaled_dot_product_attention\n",
])
def test_comparing_with_the_built_in_at_import_is_not_a_use(source):
    """A notebook cell or a script's main block that calls the built-in to compare with changes
    nothing the graders call: the targets stay clean (a correct student keeps full marks)."""
    result = scan(source + "def clean(q):\n    return q\n")
    assert result.forbidden_for("clean") == [], result.tainted


def test_notebook_cells_share_a_namespace_and_magics_are_neutralised():
    cells = [("nb cell 1", "%matplotlib inline\n!pip install nothing\nimport torch.nn.functional as F\n"),
             ("nb cell 2", "def f(q):\n    return F.scaled_dot_product_attention(q, q, q)\n"),
             ("nb cell 3", "def g(q):\n    return q\n")]
    result = scan_source(cells, ATTENTION)
    assert result.forbidden_for("f") == [SDPA] and result.forbidden_for("g") == []
    assert [f.chunk for f in result.findings] == ["nb cell 2"]


def test_a_magic_like_continuation_line_does_not_hide_code():
    """Lines starting with ``%`` inside an expression are Python: the source is parsed as it is first."""
    source = HEADER + "def f(q):\n    n = (7\n    % 2)\n    return F.scaled_dot_product_attention(q, q, q)\n"
    assert scan(source).forbidden_for("f") == [SDPA]


def test_broken_chunks_are_skipped_and_hostile_ones_fail_closed():
    broken = scan_source([("a", "def f(:\n"), ("b", HEADER + "def g(q):\n    return q\n")], ATTENTION)
    assert broken.findings == [] and broken.unscanned == []
    for hostile in ("x = " + "-" * 5000 + "1\n", "x = 1\n" + "#" * (MAX_SCAN_CHARS + 1)):
        result = scan_source([("deep", hostile), ("ok", "def g(q):\n    return q\n")], ATTENTION)
        assert result.unscanned == ["deep"]
        assert result.forbidden_for("g") == list(dict.fromkeys(ATTENTION.values()))


def test_nothing_forbidden_means_nothing_found():
    assert scan(HEADER + "def f(q):\n    return F.scaled_dot_product_attention(q, q, q)\n", {}).findings == []


def test_with_scan_findings_merges_into_call_answers_only():
    result = scan(HEADER + "def f(q):\n    return F.scaled_dot_product_attention(q, q, q)\n")
    call = {"op": "call", "target": "f"}
    answer = {"ok": True, "out": 1, "forbidden": ["worker label", SDPA]}
    merged = with_scan_findings(call, answer, result)
    assert merged == {"ok": True, "out": 1, "forbidden": ["worker label", SDPA]} and merged is not answer
    assert with_scan_findings(call, {"ok": True}, result)["forbidden"] == [SDPA]
    assert with_scan_findings({"op": "call", "target": "other"}, {"ok": True}, result)["forbidden"] == []
    inspect = {"ok": True, "kind": "function"}
    assert with_scan_findings({"op": "inspect", "target": "f"}, inspect, result) is inspect
