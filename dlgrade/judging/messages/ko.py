"""Korean messages (see :mod:`dlgrade.judging.i18n`). ``Hint:`` keeps its prefix in every language."""

MESSAGES = {
    # -- feedback on one check (dlgrade.judging.feedback) --------------------------------------------
    "feedback.called": "호출: {call}",
    "feedback.checked": "검사 대상: {target}",
    "feedback.hint": "Hint: {hint}",
    # -- 실패가 무엇에 달렸는지 (dlgrade.grading.diagnosis)
    "feedback.two_mistakes": "이 답은 알려진 실수 두 가지가 함께 있을 때 나오는 답입니다:",
    "factor.generic": "{factor} = {was}일 때는 실패하고 {factor} = {now}일 때는 통과합니다.",
    "factor.repeat": ("같은 호출을 두 번 하면 답이 다르게 나옵니다: 무작위인 부분이 있지 않나요 (training=False가 아니면 "
                      "값을 버리는 F.dropout, 또는 torch.rand)? 여기에는 무작위인 것이 없습니다."),
    "factor.dtype.float64": ("float64에서는 실패하고 float32에서는 통과합니다: 직접 만드는 텐서와 상수를 float32가 아니라 "
                             "입력의 dtype으로 만드세요 (x.new_zeros(...), torch.zeros(..., dtype=x.dtype))."),
    "factor.dtype.float32": ("float32에서는 실패하고 float64에서는 통과합니다: 어딘가에서 정밀도를 잃고 있습니다 "
                             "(log-sum-exp 대신 밀도 합의 로그를 구하거나, 거의 같은 수를 빼고 있지 않나요?)."),
    "factor.leading": ("앞쪽 차원이 {was}개일 때는 실패하고 {now}개일 때는 통과합니다: 앞쪽 차원이 몇 개든 받아야 합니다 "
                       "(뒤에서부터 세세요: K.transpose(1, 2)나 K.T가 아니라 K.transpose(-2, -1))."),
    "factor.batch.1": ("배치 크기 1에서는 실패하고 2에서는 통과합니다: squeeze()가 배치 차원까지 없애거나, "
                       "크기를 엉뚱한 차원에서 읽고 있지 않나요?"),
    "factor.batch.>1": ("배치 크기 1에서는 통과하지만 더 큰 배치에서는 실패합니다: 배치 원소들이 서로 섞이고 있지 않나요 "
                        "(순서가 틀린 view/reshape, 배치 차원에 대한 합이나 softmax)?"),
    "factor.mask.none": "mask=None일 때 실패하고 모두 True인 마스크로는 통과합니다: 마스크가 주어지지 않은 경우를 처리하세요.",
    "factor.mask.bool>0/1": ("bool 마스크로는 실패하고 같은 마스크를 0/1 정수로 주면 통과합니다: 마스크를 숫자가 아니라 "
                             "조건으로 다루세요 (mask == 0 또는 ~mask.bool())."),
    "factor.mask.0/1>bool": ("0/1 정수 마스크로는 실패하고 같은 마스크를 bool로 주면 통과합니다: ~mask와 "
                             "masked_fill(mask, ...)에는 bool 마스크가 필요합니다. 비교하거나 (mask == 0) 변환하세요 "
                             "(mask.bool())."),
    "factor.mask.bool>none": ("마스크가 있으면 실패하고 없으면 통과합니다: 마스크를 적용하는 방식을 확인하세요 "
                              "(True/1 = 참조 가능, 막힌 키는 softmax 전에 -inf)."),
    "factor.mask.0/1>none": ("마스크가 있으면 실패하고 없으면 통과합니다: 마스크를 적용하는 방식을 확인하세요 "
                             "(True/1 = 참조 가능, 막힌 키는 softmax 전에 -inf)."),
    "factor.mask_shape": ("모양이 {was}인 마스크로는 실패하고 같은 마스크를 {now} 모양으로 주면 통과합니다: 마스크가 점수에 "
                          "맞춰 브로드캐스트되게 하세요 (마스크 모양을 가정하는 view, reshape, unsqueeze 없이)."),
    "factor.state.given": ("초기 상태를 주면 실패하고 state=None이면 통과합니다: 주어진 상태를 쓰고 있나요 "
                           "(LSTM이면 (h, c) 순서로)?"),
    "factor.state.None": ("state=None이면 실패하고 0 상태를 직접 주면 통과합니다: 상태가 주어지지 않으면 [B, H] 모양의 "
                          "0에서 시작하세요."),
    "factor.bias.True": "bias=True이면 실패하고 bias=False이면 통과합니다: 편향을 제자리에서 한 번씩 더하고 있나요?",
    "factor.bias.False": ("bias=False이면 실패하고 bias=True이면 통과합니다: 편향이 None인 경우를 처리하세요 "
                          "(nn.Linear(..., bias=False)에는 편향이 없습니다)."),
    "factor.eps.other": "기본값이 아닌 eps로는 실패하고 기본값으로는 통과합니다: eps를 LayerNorm에 넘기세요.",
    "factor.eps.default": "기본 eps로는 실패하고 다른 eps로는 통과합니다: eps 자리에 직접 정한 상수를 쓰고 있지 않나요?",
    "factor.parity.odd": ("d_model이 홀수이면 실패하고 짝수이면 통과합니다: d_model이 홀수이면 마지막 특성은 짝이 되는 "
                          "코사인 없는 사인입니다 (코사인 열이 하나 적습니다)."),
    "factor.parity.even": ("d_model이 짝수이면 실패하고 홀수이면 통과합니다: 어느 특성이 사인(짝수 번째)이고 어느 특성이 "
                           "코사인(홀수 번째)인지 확인하세요."),
    "factor.n_Q_n_K.different": ("n_Q != n_K이면 실패하고 둘이 같으면 통과합니다: 크기를 엉뚱한 텐서에서 가져오고 있지 "
                                 "않나요 (키의 길이 자리에 쿼리의 길이, 또는 그 반대)?"),
    "factor.d_k_d_v.different": ("d_k != d_v이면 실패하고 둘이 같으면 통과합니다: Q의 크기 자리에 V의 크기를 쓰고 있지 "
                                 "않나요 (스케일은 Q의 마지막 차원인 d_k의 제곱근)?"),
    "factor.n_Q.>1": ("쿼리가 여러 개이면 실패하고 하나이면 통과합니다: 쿼리(Q의 -2 차원)가 키와 섞이거나 softmax를 "
                      "엉뚱한 차원에서 구하고 있지 않나요?"),
    "factor.steps.>1": ("시간 단계가 여러 개이면 실패하고 하나이면 통과합니다: 상태를 한 단계에서 다음 단계로 넘기고, "
                        "출력을 dim 1을 따라 쌓고 있나요?"),
    "feedback.call_module": "{target}({init}) ({dtype}) 생성 후 .{method}{call}",
    "feedback.expected_tensor": "{name}: 기댓값은 텐서 {expected}인데 실제 값은 {got}입니다",
    "feedback.expected_shape": "{name}: 기대한 형태(shape)는 {expected}인데 실제 형태는 {got}입니다",
    "feedback.expected_dtype": "{name}: 기대한 dtype은 {expected}인데 실제 dtype은 {got}입니다",
    "feedback.expected_value": "{name}: 기댓값은 {expected}인데 실제 값은 {got}입니다",
    "feedback.values_differ": "{name}: 값 {total}개 중 {count}개가 다릅니다. 처음 다른 위치는 {where}입니다",
    "feedback.not_finite": "{name}: 위치 {where}에는 유한한 값이 나와야 하는데 실제 값은 {got}입니다",
    "feedback.other_value": "{name}: 위치 {where}의 기댓값은 {expected}인데 실제 값은 {got}입니다",
    "feedback.values_off": ("{name}: 최대 절대 오차 {error}, 위치 {where} (기댓값 {expected}, 실제 값 {got}); "
                            "값 {total}개 중 {count}개가 허용 오차를 벗어났습니다 (atol {atol}, rtol {rtol})"),
    "feedback.forbidden": ("코드에서 {used} 사용이 확인되었습니다. 이 과제에서는 직접 구현해야 하는 부분이므로 "
                           "이를 실행하는 테스트는 0점입니다"),
    "feedback.error_while": "오류 ({where} 중):\n{error}",
    "feedback.no_gpu": "코드가 GPU를 요구하거나(.cuda(), device=\"cuda\") 여러 장치를 섞어 씁니다. 채점기는 CPU에서 실행됩니다. 새 텐서는 입력과 같은 장치에 만드세요: x.device, torch.zeros_like(x), x.new_zeros(...).",
    "feedback.error": "오류:\n{error}",
    "feedback.cut": "[... 이하 {count}자 생략]",
    "feedback.load_errors": "코드를 불러오는 중 생긴 문제:",
    "feedback.see_load_errors": "코드를 불러오는 중에 오류가 났습니다 (테스트 위쪽에 표시): 먼저 그 문제를 고치세요.",
    "feedback.inputs_unknown": "코드가 입력을 수정했는지 확인할 수 없습니다 (워커의 응답이 불완전합니다)",
    "feedback.input_modified": "코드가 입력 {name}의 값을 제자리(in place)에서 수정했습니다",
    "feedback.grad_input": "입력 {name}에 대한 기울기(gradient)",
    "feedback.grad_param": "파라미터 {name}에 대한 기울기(gradient)",
    "feedback.grad_unexpected": "{name}: 기대한 답에는 없는 기울기가 있습니다",
    "feedback.grad_missing": ("{name}: 없습니다 (출력이 autograd로 이 값에 연결되어 있지 않습니다: "
                              ".detach(), .data, torch.no_grad()를 쓰거나 numpy로 값을 다시 만들지 않았나요?)"),
    "feedback.cannot_inspect": "코드를 검사할 수 없습니다",
    "feedback.not_defined": "코드에 {target}의 정의가 없습니다",
    "feedback.wrong_kind": "{target}: 기대한 종류는 {expected}인데 실제로는 {got}입니다",
    "feedback.wrong_signature": "{label}의 인자가 다릅니다: 기대한 인자 ({expected}), 실제 인자 {got}",
    "feedback.signature_missing": "없음",
    "feedback.not_a_module": "{target} 클래스는 torch.nn.Module을 상속해야 합니다",
    "kind.class": "클래스",
    "kind.function": "함수",
    "kind.other": "클래스도 함수도 아닌 값",
    # what was going on when a call failed ("... (while calling)")
    "where.building": "모듈 생성",
    "where.calling": "호출",
    "where.computing gradients": "기울기 계산",
    "where.reading your submission": "제출물 읽기",
    "where.protocol": "채점기와 통신",
    "where.loading": "코드 불러오기",
    "where.handling the request": "요청 처리",
    "where.returning": "결과 반환",
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
    "results.score": "점수: {score} / {max_score}",
    # -- a student's feedback.html (dlgrade.batch.report.feedback_page) ---------------------------
    "page.feedback_title": "{name}의 피드백 — {title}",
    "page.score": "점수",
    "page.back_to_report": "전체 보고서로 돌아가기",
    "grading.submission_failed": "이 제출물을 채점할 수 없었습니다 ({error}): 모든 테스트가 0점입니다; 예상하지 못한 일이라면 담당 교수자에게 알려 주세요",
    # -- the students' checks (dlgrade.handout.checks, dlgrade check) --------------------------------
    "checks.line": "[{mark}] {name} ({points}점)",
    "checks.summary": "공개 검사 {total}개 중 {passed}개 통과.",
    "checks.not_loaded": "코드를 불러올 수 없어서 검사를 실행하지 못했습니다: {error}",
    "checks.fix_load_first": "이 문제를 먼저 고치세요. 아래 검사가 이 문제 때문에 실패할 수 있습니다.",
    "checks.not_run_after_timeout": "실행하지 않음: 앞선 {target} 호출이 제한 시간을 넘었습니다 (먼저 그 문제를 고치세요)",
    # -- the handout (skeleton, notebook, README) --------------------------------------------
    "stub.todo": "TODO: {name} 구현하기",
    "notebook.check_cell": "# {target} 검사 (공개 검사만 실행합니다. 이 셀은 채점되지 않고 제출되지도 않습니다)",
    "notebook.submit": """\
## 제출

노트북을 저장하고 내려받은 뒤, 안내에 따라 `{module}.ipynb`를 제출하세요:

- **Colab**: *파일 → 다운로드 → .ipynb 다운로드*.
- **Kaggle**: *File → Download notebook*.
- **JupyterLab, Jupyter Notebook, VS Code**: 지금 열려 있는 파일을 (저장한 뒤) 그대로 제출하면 됩니다.
  JupyterLab에서는 *File → Download*로도 내려받을 수 있습니다.

파일 이름 `{module}.ipynb`는 바꾸지 마세요. 출력, `!pip` 줄, `%매직`이 남아 있어도 괜찮습니다 (채점기는
이것들과 이 노트북의 준비 셀, 검사 셀을 실행하지 않습니다). 과제 폴더가 있다면 그 폴더의 터미널에서
모든 공개 검사를 실행해 볼 수도 있습니다: `python -m dlgrade check {module}.ipynb`.

{hidden}""",
    "notebook.setup": """\
**준비.** 아래의 준비 셀을 먼저 실행하세요. 이 노트북에 들어 있는 공개 검사를 풀어 놓습니다 (네트워크
사용 없음, 설치 없음). Colab과 Kaggle에는 torch와 numpy가 이미 있고, 검사는 CPU와 GPU 어디서나
실행됩니다. 내 컴퓨터에서는 Python 3.11 이상과 torch, numpy가 필요합니다. 과제 폴더에서
`pip install -r requirements.txt`를 실행하면 이미 설치된 torch는 그대로 두고, 없으면 PyTorch의 CPU
빌드를 설치합니다 (약 200 MB. Linux에서 그냥 `pip install torch`를 하면 수 GB의 CUDA 빌드를
내려받습니다). 노트북은 JupyterLab(`pip install jupyterlab` 후 `jupyter lab`)이나 Jupyter 확장을 설치한
VS Code에서 열 수 있습니다.""",
    "notebook.setup_title": "공개 검사 준비 (이 셀을 먼저 실행하세요)",
    "notebook.setup_comment": """\
이 노트북에 들어 있는 공개 검사와 검사 프로그램을 임시 폴더에 풀어 놓습니다.
네트워크를 쓰지 않고 아무것도 설치하지 않습니다. 채점되지 않으니 그대로 두세요.""",
    "notebook.setup_changed": "준비 셀이 바뀌었습니다. 노트북을 새로 내려받아 이 셀을 다시 복사하세요.",
    "notebook.setup_ready": "공개 검사가 준비되었습니다. 각 문제 아래의 검사 셀을 실행하세요.",
    "notebook.run_setup_first": "노트북 맨 위의 준비 셀을 먼저 실행하세요.",
    "handout.hidden": """\
공개 검사에는 float64 호출, 배치 크기 1, 그리고 코드가 입력을 바꾸지 않는지가 포함됩니다. 채점기는
여기에 더해, 처음 보는 입력으로 다음을 검사합니다: docstring이 허용하는 모든 입력 형태 (다른 크기,
임의 개수의 앞쪽 차원, 가능한 모든 shape의 bool 또는 0/1 마스크, 상태를 주거나 주지 않는 경우,
bias 켜기와 끄기, 홀수와 짝수 크기), 기울기 (코드를 통한 역전파), 같은 호출이 두 번 모두 같은
답을 내는지 (무작위성 없음). 따라서 공개 검사 통과는 필요조건이지 충분조건이 아닙니다.""",
    "handout.readme": """\
# {title}

파일: `{m}.ipynb`(노트북), `{m}.py`(같은 코드를 담은 일반 파이썬 파일),
`{m}_checks.json`(공개 검사), `dlgrade/`(검사를 실행하는 프로그램).

## 준비

Python 3.11 이상이 필요합니다. 이 폴더에서:

```
python -m venv .venv && . .venv/bin/activate      # 선택 사항이지만 권장합니다 (Windows: .venv\\Scripts\\activate)
pip install -r requirements.txt
```

`requirements.txt`는 이미 설치된 torch(2.2 이상)를 그대로 두고, 없으면 PyTorch 공식 인덱스에서 CPU
빌드를 설치합니다 (약 200 MB. Linux에서 그냥 `pip install torch`를 하면 이 과제에 필요 없는 수 GB의
CUDA 빌드를 내려받습니다). 노트북은 JupyterLab(`pip install jupyterlab` 후 `jupyter lab`)이나 Jupyter
확장을 설치한 VS Code에서 열 수 있습니다. `{m}.py`를 아무 편집기에서 작업해도 됩니다.

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

{hidden}

## 제출

안내에 따라 `{m}.ipynb`(또는 `{m}.py`)를 Gradescope에 업로드하세요. 그 파일만 채점되니 파일 이름을
바꾸지 마세요.
""",
}
