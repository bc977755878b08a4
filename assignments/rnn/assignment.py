"""Assignment ``rnn``: what students see about it and what they may not use."""
import torch

from dlgrade.authoring.registry import Question
from dlgrade.grading.factors import Batch, Call, Classified, DType, Flag, OptionalArg, Signature, SizeOne

TITLE = "Recurrent cells: LSTM and GRU from scratch"

INTRO = """\
In this assignment you implement the forward pass of an **LSTM cell**, a **GRU cell** and a
single-layer **LSTM** over a sequence, using only tensor operations. The parameters are laid out
exactly as in `torch.nn.LSTMCell` / `torch.nn.GRUCell`, so your modules compute the same
functions as PyTorch's when they hold the same weights.

Fill in every `forward` that raises `NotImplementedError`; leave the given `__init__` methods as
they are. After each part, run its check cell: it tells you which checks pass and, when one
fails, what was called, what was expected and what came back.

Do not use `nn.LSTMCell`, `nn.LSTM`, `nn.GRUCell`, `nn.GRU`, `torch.lstm_cell` or
`torch.gru_cell`: the graders detect them and give 0 points for the tests that use them.
"""

QUESTIONS = [
    Question("LSTMCell", "1. LSTM cell",
             "Implement `LSTMCell.forward`. The gate blocks of the weights are stacked in the "
             "order **i, f, g, o** (input, forget, cell candidate, output), as in PyTorch."),
    Question("GRUCell", "2. GRU cell",
             "Implement `GRUCell.forward`, the same function as `torch.nn.GRUCell`: blocks "
             "**r, z, n**, and the reset gate multiplies `W_hn h + b_hn` *after* the matrix product."),
    Question("LSTM", "3. LSTM layer",
             "Implement `LSTM.forward`: run `self.cell` over the time steps of a batch-first "
             "sequence and return every hidden state plus the final `(h_n, c_n)`."),
]

FORBIDDEN = {
    "lstm_cell": "torch.lstm_cell (nn.LSTMCell)",
    "gru_cell": "torch.gru_cell (nn.GRUCell)",
    "lstm": "torch.lstm (nn.LSTM)",
    "gru": "torch.gru (nn.GRU)",
    "rnn_tanh_cell": "torch.rnn_tanh_cell (nn.RNNCell)",
    "rnn_tanh": "torch.rnn_tanh (nn.RNN)",
}


def _zeros(call: Call, count: int) -> tuple[torch.Tensor, ...] | torch.Tensor:
    """The state ``None`` stands for: zeros of shape ``[B, H]`` (``count`` of them)."""
    zeros = torch.zeros(call.get("x").shape[0], call.init["hidden_size"])
    return zeros if count == 1 else (zeros,) * count


def _sizes(call: Call) -> str:
    return "equal" if call.init["input_size"] == call.init["hidden_size"] else "different"


def _cell(target: str, state: str, count: int) -> Signature:
    return Signature(target, (
        DType(), OptionalArg("state", arg=state, zeros=lambda c: _zeros(c, count)), Flag("bias"), Batch(),
        Classified("sizes", ("equal", "different"), _sizes)), core={"x": 1, state: 1})


# the input forms each docstring allows (dlgrade.grading.factors): graders exercise every one,
# and a failing check is re-asked with one of them changed at a time to say what it depends on
FORMS = [
    _cell("LSTMCell", "state", 2),
    _cell("GRUCell", "h", 1),
    Signature("LSTM", (DType(), OptionalArg("state", zeros=lambda c: _zeros(c, 2)), Flag("bias"), Batch(),
                       SizeOne("steps", dims={"x": 1})), core={"x": 2, "state": 1}),
]
