"""Load torchvision models offline-first: cached weights, else random ones with a notice.

The official tutorial calls ``resnet18(pretrained=True)``, which is deprecated and
downloads 45 MB. Here we use the weights API and never wait on a network that may not
be there: if the weights file is not in torch's cache we only try to download when
``COURSE_ALLOW_DOWNLOAD=1`` and otherwise build the same model with random weights.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torchvision.models import ResNet, ResNet18_Weights, resnet18

from course_utils.i18n import Msg, say

RANDOM_WEIGHTS_NOTICE = Msg(
    "Notice: the pretrained resnet18 weights are not available offline, so this model has "
    "random weights. Everything in this lesson works the same; only the predictions are "
    "meaningless. To use real weights, download them once with network access "
    "(COURSE_ALLOW_DOWNLOAD=1) or copy {file} into {folder}.",
    "提示：离线环境中没有预训练的 resnet18 权重，因此这个模型使用随机权重。"
    "本课的所有内容照常运行，只是预测结果没有意义。若要使用真实权重，请在联网时下载一次"
    "（设置 COURSE_ALLOW_DOWNLOAD=1），或把 {file} 复制到 {folder}。",
)


def weights_cache_path(weights: ResNet18_Weights = ResNet18_Weights.DEFAULT) -> Path:
    """Where torch keeps the downloaded weights file."""
    filename = weights.url.rsplit("/", 1)[-1]
    return Path(torch.hub.get_dir()) / "checkpoints" / filename


def load_resnet18(pretrained: bool = True, *, quiet: bool = False) -> ResNet:
    """A resnet18: pretrained when the weights are cached (or may be downloaded), else random."""
    if not pretrained:
        return resnet18(weights=None)
    weights = ResNet18_Weights.DEFAULT
    path = weights_cache_path(weights)
    if path.is_file():
        try:
            return resnet18(weights=weights)
        except Exception as exc:  # a truncated or corrupt cache file
            if not quiet:
                say(
                    f"Notice: the cached weights at {path} could not be loaded ({exc}).",
                    f"提示：无法加载缓存的权重文件 {path}（{exc}）。",
                )
    elif os.environ.get("COURSE_ALLOW_DOWNLOAD") == "1":
        try:
            return resnet18(weights=weights)
        except Exception as exc:
            if not quiet:
                say(f"Notice: download failed ({exc}).", f"提示：下载失败（{exc}）。")
    if not quiet:
        say(RANDOM_WEIGHTS_NOTICE.format(file=path.name, folder=path.parent))
    return resnet18(weights=None)
