import time

import pytest
import torch
from torchvision.models import resnet18

from course_utils import models


@pytest.fixture
def empty_hub(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv("COURSE_ALLOW_DOWNLOAD", raising=False)
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path / "hub"))
    return tmp_path


def test_offline_fallback_gives_random_weights_with_a_bilingual_notice(empty_hub, capsys):
    start = time.monotonic()
    model = models.load_resnet18()
    assert time.monotonic() - start < 10, "must not wait on the network"
    out = capsys.readouterr().out
    assert "random weights" in out and "随机权重" in out
    assert isinstance(model, torch.nn.Module)
    assert model.fc.out_features == 1000


def test_cached_weights_are_used(empty_hub, capsys):
    saved = resnet18(weights=None).state_dict()
    path = models.weights_cache_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(saved, path)
    model = models.load_resnet18()
    assert "random weights" not in capsys.readouterr().out
    assert torch.equal(model.conv1.weight, saved["conv1.weight"])


def test_corrupt_cache_falls_back(empty_hub, capsys):
    path = models.weights_cache_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not a checkpoint")
    model = models.load_resnet18()
    out = capsys.readouterr().out
    assert "could not be loaded" in out and "随机权重" in out
    assert model.fc.in_features == 512


def test_pretrained_false_is_silent(capsys):
    models.load_resnet18(pretrained=False)
    assert capsys.readouterr().out == ""
