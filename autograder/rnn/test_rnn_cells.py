"""Graders for LSTMCell and GRUCell (assignment ``rnn``)."""
import pytest

from dlgrade.grading.probes import Probe, randn

LSTM_OUT = ("h_next", "c_next")


def lstm_cell(B=3, n_in=5, H=4, state=True, dtype="float32", seed=0, bias=True):
    args = (randn(B, n_in), (randn(B, H), randn(B, H))) if state else (randn(B, n_in),)
    return Probe("LSTMCell", args, init=dict(input_size=n_in, hidden_size=H, bias=bias), dtype=dtype,
                 seed=seed, arg_names=("x", "state"), out_names=LSTM_OUT)


def gru_cell(B=3, n_in=5, H=4, state=True, dtype="float32", seed=0, bias=True):
    args = (randn(B, n_in), randn(B, H)) if state else (randn(B, n_in),)
    return Probe("GRUCell", args, init=dict(input_size=n_in, hidden_size=H, bias=bias), dtype=dtype,
                 seed=seed, arg_names=("x", "h"), out_names="h_next")


CELLS = {"LSTMCell": lstm_cell, "GRUCell": gru_cell}


@pytest.mark.public
@pytest.mark.points(1)
@pytest.mark.parametrize("cell", CELLS)
def test_cell_api_and_shapes(grader, cell):
    """The cell keeps the handed-out signature and returns the right shapes and dtypes"""
    grader.api(cell)
    grader.shapes(CELLS[cell]())
    grader.shapes(CELLS[cell](B=2, n_in=3, H=6, state=False, seed=1))


@pytest.mark.public
@pytest.mark.points(2)
@pytest.mark.parametrize("cell", CELLS)
def test_cell_values(grader, cell):
    """The cell's outputs match the reference (float32 and float64, batch 1 and more, with a given state)"""
    grader.values(CELLS[cell]())
    grader.values(CELLS[cell](B=4, n_in=7, H=5, seed=2))
    grader.values(CELLS[cell](B=1, n_in=4, H=4, dtype="float64", seed=12))


@pytest.mark.points(2)
@pytest.mark.parametrize("cell", CELLS)
def test_cell_values_edge_cases(grader, cell):
    """The cell's outputs match the reference in float64, with batch 1, no state, no bias, H = 1"""
    make = CELLS[cell]
    grader.values(make(dtype="float64", seed=3))
    grader.values(make(B=1, n_in=2, H=3, seed=4))
    grader.values(make(state=False, seed=5))
    grader.values(make(B=2, n_in=3, H=4, bias=False, dtype="float64", seed=6))
    grader.values(make(B=5, n_in=1, H=1, seed=7))


@pytest.mark.points(2)
@pytest.mark.parametrize("cell", CELLS)
def test_cell_gradients(grader, cell):
    """Gradients w.r.t. the inputs, the state and every parameter match the reference"""
    make = CELLS[cell]
    grader.gradients(make(dtype="float64", seed=8))
    grader.gradients(make(B=2, n_in=3, H=2, bias=False, seed=9))
    grader.gradients(make(B=1, state=False, dtype="float64", seed=10))


@pytest.mark.public
@pytest.mark.points(1)
@pytest.mark.parametrize("cell", CELLS)
def test_cell_inputs_unchanged(grader, cell):
    """The cell returns the right shapes and does not modify its inputs in place (x and the given state)"""
    probe = CELLS[cell](seed=11)
    grader.unchanged(probe)
    grader.shapes(probe)
