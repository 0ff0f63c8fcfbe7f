"""Capturing and serving a module's output: both reach calls of ``self.forward`` (which forward
hooks miss), and the module's own forward, class or instance, comes back afterwards."""
import torch
import torch.nn as nn

from flexseg.models.intercept import capture_output, serve_outputs


class Head(nn.Module):
    def forward(self, x):
        return x + 1

    def loss(self, x):  # as OpenMMLab heads do
        return self.forward(x).sum()


def test_capture_sees_calls_of_self_forward_and_restores_the_class_forward():
    head = Head()
    with capture_output(head) as captured:
        head.loss(torch.zeros(2))
    assert torch.equal(captured["output"], torch.ones(2))
    assert "forward" not in head.__dict__ and torch.equal(head(torch.zeros(1)), torch.ones(1))


def test_an_instance_forward_set_before_comes_back():
    head = Head()
    head.forward = lambda x: x * 10
    with capture_output(head) as captured:
        head(torch.ones(1))
    assert torch.equal(captured["output"], torch.full((1,), 10.0))
    assert torch.equal(head(torch.ones(1)), torch.full((1,), 10.0))


def test_serving_returns_the_given_outputs_for_that_tensor_only():
    head, x, served_value = Head(), torch.zeros(2), torch.full((2,), 7.0)
    with serve_outputs(head, x, served_value) as served:
        assert head(x) is served_value
        assert served["whole_batch"]
        assert torch.equal(head(x.clone()), torch.ones(2))  # another tensor: computed
        assert not served["whole_batch"]
    assert "forward" not in head.__dict__


def test_serving_and_capturing_nest():
    head, x = Head(), torch.zeros(2)
    with serve_outputs(head, x, "served"), capture_output(head) as captured:
        head(x)
    assert captured["output"] == "served" and "forward" not in head.__dict__
