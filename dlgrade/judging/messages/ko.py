"""Korean messages (see :mod:`dlgrade.judging.i18n`). ``Hint:`` keeps its prefix in every language."""

MESSAGES = {
    # -- feedback on one check (dlgrade.judging.feedback) --------------------------------------------
    "feedback.called": "호출: {call}",
    "feedback.checked": "검사 대상: {target}",
    "feedback.hint": "Hint: {hint}",
    "feedback.call_module": "{target}({init}) ({dtype}) 생성 후 .{method}{call}",
    "feedback.expected_tensor": "{name}: 텐서 {expected}이(가) 나와야 하는데 {got}이(가) 나왔습니다",
    "feedback.expected_shape": "{name}: shape이 {expected}이어야 하는데 {got}입니다",
    "feedback.expected_dtype": "{name}: dtype이 {expected}이어야 하는데 {got}입니다",
    "feedback.expected_value": "{name}: {expected}이(가) 나와야 하는데 {got}이(가) 나왔습니다",
    "feedback.values_differ": "{name}: 값 {total}개 중 {count}개가 다릅니다. 처음 다른 위치는 {where}입니다",
    "feedback.not_finite": "{name}: 유한한 값이 나와야 하는 위치 {where}에서 {got}이(가) 나왔습니다",
    "feedback.other_value": "{name}: 위치 {where}에서 {expected}이(가) 나와야 하는데 {got}이(가) 나왔습니다",
    "feedback.values_off": ("{name}: 최대 절대 오차 {error}, 위치 {where} (기댓값 {expected}, 실제 값 {got}); "
                            "값 {total}개 중 {count}개가 허용 오차를 벗어났습니다 (atol {atol}, rtol {rtol})"),
    "feedback.forbidden": ("코드에서 {used}을(를) 사용했습니다. 이 과제에서는 직접 구현해야 하는 부분이므로 "
                           "이를 실행하는 테스트는 0점입니다"),
    "feedback.error_while": "오류 ({where} 중):\n{error}",
    "feedback.cut": "[... 이하 {count}자 생략]",
    "feedback.load_errors": "코드를 불러오는 중 생긴 문제:",
    "feedback.inputs_unknown": "코드가 입력을 수정했는지 확인할 수 없습니다 (워커의 응답이 불완전합니다)",
    "feedback.input_modified": "코드가 입력 {name}을(를) 제자리(in place)에서 수정했습니다",
    "feedback.grad_input": "입력 {name}에 대한 기울기(gradient)",
    "feedback.grad_param": "파라미터 {name}에 대한 기울기(gradient)",
    "feedback.grad_missing": ("{name}: 없습니다 (출력이 autograd로 이 값에 연결되어 있지 않습니다: "
                              ".detach(), .data, torch.no_grad()를 쓰거나 numpy로 값을 다시 만들지 않았나요?)"),
    "feedback.cannot_inspect": "코드를 검사할 수 없습니다",
    "feedback.not_defined": "코드에 {target}이(가) 정의되어 있지 않습니다",
    "feedback.wrong_kind": "{target}은(는) {expected}여야 하는데 {got}입니다",
    "feedback.wrong_signature": "{label}의 인자는 ({expected})여야 하는데 {got}입니다",
    "feedback.signature_missing": "없음",
    "feedback.not_a_module": "{target}은(는) torch.nn.Module을 상속해야 합니다",
    "kind.class": "클래스",
    "kind.function": "함수",
    "kind.other": "클래스도 함수도 아닌 값",
    # what was going on when a call failed ("... (while calling)")
    "where.building": "모듈 생성",
    "where.calling": "호출",
    "where.computing gradients": "기울기 계산",
    "where.running": "실행",
    "where.reading your submission": "제출물 읽기",
    "where.protocol": "채점기와 통신",
    # -- the worker that runs student code (dlgrade.supervisor.client) ---------------------------
    "worker.budget": ("이 제출물은 시간 예산 {seconds}초(모든 호출과 재시작 합계)를 {doing} 중에 모두 썼습니다. "
                      "그때까지 답하지 못한 테스트는 0점입니다"),
    "worker.too_much": ("이 제출물의 검사에 대한 코드의 답이 모두 합쳐 {mb}MB를 넘었습니다(출력이 너무 큰가요?). "
                        "그때까지 답하지 못한 검사는 실패합니다"),
    "worker.stopped": "이 제출물의 채점이 중단되었습니다",
    "worker.not_started": "워커 프로세스를 시작할 수 없습니다",
    "worker.timeout": "{doing} 중 {seconds}초 제한 시간을 넘었습니다 (무한 루프인가요?)",
    "worker.ended": ("{doing} 중 코드가 워커 프로세스를 종료시켰습니다 "
                     "(종료 상태 {code}; sys.exit, os._exit 또는 크래시?)"),
    "worker.invalid": "{doing} 중 워커가 잘못된 응답을 보냈습니다",
    "worker.invalid_detail": "{doing} 중 워커가 잘못된 응답을 보냈습니다: {detail}",
    "doing.starting": "워커 시작",
    "doing.loading": "코드 불러오기",
    "doing.running": "코드 실행",
    "load.error": "코드를 불러오는 중 {label}에서 {error} 오류가 발생했습니다",
    "grading.grader_error": "채점기 오류 ({error}); 담당 교수자나 조교에게 알려 주세요",
    "grading.submission_failed": "이 제출물을 채점할 수 없었습니다 ({error}): 모든 테스트가 0점입니다; 예상하지 못한 일이라면 담당 교수자에게 알려 주세요",
    # -- the students' checks (dlgrade.handout.checks, dlgrade check) --------------------------------
    "checks.line": "[{mark}] {name} ({points}점)",
    "checks.summary": "공개 검사 {total}개 중 {passed}개 통과.",
    # -- the handout (skeleton, notebook, README) --------------------------------------------
    "stub.todo": "TODO: {name} 구현하기",
    "notebook.check_cell": "# {target} 검사 (공개 검사만 실행합니다. 이 셀은 채점되지 않고 제출되지도 않습니다)",
    "notebook.submit": """\
## 제출

노트북을 저장한 뒤, 안내에 따라 `{module}.ipynb`(또는 같은 코드가 들어 있는 `{module}.py`)를
제출하세요. 제출하기 전에 터미널에서 모든 공개 검사를 실행해 볼 수 있습니다:

```
dlgrade check {module}.ipynb
```

채점기는 이 공개 검사보다 더 많은 검사를 실행합니다 (다른 shape, float64, 기울기 등).""",
    "handout.readme": """\
# {title}

파일: `{m}.ipynb`(노트북), `{m}.py`(같은 코드를 담은 일반 파이썬 파일),
`{m}_checks.json`(공개 검사), `dlgrade/`(검사를 실행하는 프로그램).

## 준비

```
python -m venv .venv && . .venv/bin/activate      # 선택 사항이지만 권장합니다
pip install -r requirements.txt
```

## 과제 하기

노트북과 `.py` 파일 중 **하나**에서 작업하세요. `NotImplementedError`를 발생시키는 부분을 모두
채우면 됩니다 (각 부분의 TODO 주석에 단계가 설명되어 있습니다). 주어진 `__init__` 메서드, 이름,
시그니처는 바꾸지 마세요.

## 검사하기

- 노트북에서: 각 문제 아래의 검사 셀을 실행하세요. 공개 검사마다 `[PASS]`/`[FAIL]`이 출력되고,
  실패하면 무엇을 호출했는지, 무엇이 나와야 했는지, 무엇이 나왔는지를 알려 줍니다. 출력이 잘 알려진
  실수와 일치하면 `Hint:` 줄도 나옵니다.
- 터미널에서 (이 폴더에서): `python -m dlgrade check {m}.py` (또는 `{m}.ipynb`). 종료 상태가
  0이면 모든 공개 검사를 통과한 것입니다.

채점기는 이보다 더 많은 검사를 실행합니다 (다른 shape, float64, 기울기, 입력을 바꾸지 않는지 등).
따라서 공개 검사 통과는 필요조건이지 충분조건이 아닙니다.

## 제출

안내에 따라 `{m}.ipynb`(또는 `{m}.py`)를 Gradescope에 업로드하세요. 그 파일만 채점되니 파일 이름을
바꾸지 마세요.
""",
}
