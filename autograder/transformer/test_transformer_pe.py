"""Graders for positional_encoding (assignment ``transformer``)."""
import pytest

from dlgrade.grading.probes import Probe


def pe(n_position, d_model):
    return Probe("positional_encoding", (n_position, d_model), arg_names=("n_position", "d_model"),
                 out_names="pe")


@pytest.mark.public
@pytest.mark.points(1)
def test_pe_api_and_shapes(grader):
    """positional_encoding keeps its signature and returns a float32 [n_position, d_model] table"""
    grader.api("positional_encoding", method=None)
    grader.shapes(pe(10, 8))
    grader.shapes(pe(1, 5))


@pytest.mark.public
@pytest.mark.points(2)
def test_pe_values(grader):
    """The encoding matches the reference (even d_model, n_position != d_model, a single position)"""
    grader.values(pe(12, 16))
    grader.values(pe(7, 6))
    grader.values(pe(1, 4))


@pytest.mark.points(2)
def test_pe_values_odd_and_small(grader):
    """Odd d_model (the last sine has no cosine partner), d_model 1 and 2, a single position"""
    grader.values(pe(9, 7))
    grader.values(pe(4, 5))
    grader.values(pe(6, 1))
    grader.values(pe(5, 2))
    grader.values(pe(1, 10))


@pytest.mark.points(1)
def test_pe_values_long(grader):
    """The encoding matches the reference for longer sequences and more features"""
    # float32 computations of pos / 10000^(2i/d) stay within tolerance up to ~100 positions
    grader.values(pe(64, 64))
    grader.values(pe(50, 30))
