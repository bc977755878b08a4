"""Graders for the LSTM layer (assignment ``rnn``)."""
import pytest

from dlgrade.grading.probes import Probe, randn

LSTM_OUT = ("output", ("h_n", "c_n"))


def lstm(B=2, T=5, n_in=3, H=4, state=False, dtype="float32", seed=0, bias=True):
    args = (randn(B, T, n_in), (randn(B, H), randn(B, H))) if state else (randn(B, T, n_in),)
    return Probe("LSTM", args, init=dict(input_size=n_in, hidden_size=H, bias=bias), dtype=dtype,
                 seed=seed, arg_names=("x", "state"), out_names=LSTM_OUT)


@pytest.mark.public
@pytest.mark.points(1)
def test_lstm_api_and_shapes(grader):
    """LSTM keeps the handed-out signature and returns (output, (h_n, c_n)) with the right shapes"""
    grader.api("LSTM")
    grader.shapes(lstm())
    grader.shapes(lstm(B=3, T=2, state=True, seed=1))


@pytest.mark.public
@pytest.mark.points(2)
def test_lstm_values(grader):
    """LSTM's outputs match the reference (float32 and float64, batch first, B != T, batch 1)"""
    grader.values(lstm())
    grader.values(lstm(B=4, T=3, n_in=2, H=5, state=True, seed=2))
    grader.values(lstm(B=1, T=3, n_in=2, H=3, state=True, dtype="float64", seed=10))


@pytest.mark.points(2)
def test_lstm_values_edge_cases(grader):
    """LSTM's outputs match the reference in float64, for T = 1, batch 1, no bias and a given state"""
    grader.values(lstm(dtype="float64", state=True, seed=3))
    grader.values(lstm(B=3, T=1, seed=4))
    grader.values(lstm(B=1, T=6, seed=5))
    grader.values(lstm(B=2, T=4, bias=False, state=True, dtype="float64", seed=6))


@pytest.mark.points(2)
def test_lstm_gradients(grader):
    """Gradients through every time step w.r.t. the inputs, the state and the parameters match"""
    grader.gradients(lstm(dtype="float64", state=True, seed=7))
    grader.gradients(lstm(B=3, T=4, seed=8))


@pytest.mark.public
@pytest.mark.points(1)
def test_lstm_inputs_unchanged(grader):
    """LSTM returns the right shapes and does not modify its inputs in place (x and the initial state)"""
    probe = lstm(state=True, seed=9)
    grader.unchanged(probe)
    grader.shapes(probe)
