"""mingpt_lab.bench.sort: the solve point, one device and one precision for both sides of the comparison."""

import json

import pytest
import torch

from mingpt_lab.bench import sort
from mingpt_lab.bench.sort import _Autocast, stable_point

pytestmark = pytest.mark.usefixtures("one_thread")


def test_bench_stable_point_needs_every_later_evaluation():
    evals = [(100, 1.0, 0.99), (200, 2.0, 1.0), (300, 3.0, 0.999), (400, 4.0, 1.0), (500, 5.0, 1.0)]
    assert stable_point(evals) == (400, 4.0)  # touching 100% at 200 and falling back does not count
    assert stable_point(evals + [(600, 6.0, 0.998)]) is None  # a run that ends below 100% never solved it
    assert stable_point([(100, 1.0, 1.0), (200, 2.0, 1.0)]) == (100, 1.0)



def test_both_sides_get_one_device_and_the_precision_is_reported(capsys):
    assert sort.main(["--iters", "2", "--device", "cpu", "--precision", "bf16", "--quiet", "--threads", "1"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (result["device"], result["precision"], result["iters"]) == ("cpu", "bf16", 2)


def test_the_peers_model_runs_under_the_same_autocast_as_ours():
    class Peer(torch.nn.Module):  # stands in for minGPT's GPT: a forward and configure_optimizers
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(4, 4)

        def forward(self, x):
            return self.linear(x)

        def configure_optimizers(self, config):
            return ("optimizer for", config)

    peer = Peer()
    wrapped = _Autocast(peer, "cpu")
    assert wrapped(torch.ones(2, 4)).dtype == torch.bfloat16 and peer(torch.ones(2, 4)).dtype == torch.float32
    assert wrapped.configure_optimizers("tc") == ("optimizer for", "tc")
    assert list(wrapped.parameters()) == list(peer.parameters())
