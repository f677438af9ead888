#!/usr/bin/env bash
# Here, where the package registry can be reached: the wheels the lent 16-core machine lacks
# (it has torch, torchvision, matplotlib, numpy, tqdm and pytest, and no registry), into .whl/.
# That folder is git-ignored; name it in the device tool's `carry` (64 MiB at most).
set -euo pipefail
cd "$(dirname "$0")/../.."
python=${PYTHON:-.venv/bin/python}
rm -rf .whl && mkdir .whl
"$python" -m pip download -q --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform any -c constraints.txt -d .whl \
  "nbgrader==0.9.6" "sqlalchemy<2.1" nbclient nbconvert nbformat ipykernel "latex2mathml==3.81.1"
# What the lent machine already has: keeps the carried folder well under its limit.
(cd .whl && rm -f numpy-* pytest-* pygments-* pyyaml-* PyYAML-* setuptools-* jinja2-* \
  markupsafe-* MarkupSafe-* requests-* urllib3-* idna-* certifi-* charset_normalizer-* \
  packaging-* psutil-* tqdm-* babel-* debugpy-* jedi-* parso-* widgetsnbextension-* \
  jupyterlab_widgets-* jupyter_builder-*)
du -sh .whl
