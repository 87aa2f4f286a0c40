"""The build script of every distribution that depends on seqserve-contract.

`client/setup.py`, `server/setup.py` and `trainer/setup.py` are links to this file (an sdist
holds a copy). Their `[project] dependencies` are dynamic: the third-party ones are in the
part's own `requirements.txt`, and this adds seqserve-contract. Built from a checkout
(`pip install ./server`), the contract is the sibling folder `../contract`, named by a
direct reference so that pip builds and installs it too. Built from an sdist
(`python -m build` builds the wheel from one) it is the plain `seqserve-contract==0.1.0`:
install such a wheel with the contract's beside it (`pip install dist/*.whl`, or
`--find-links`).
"""

from pathlib import Path

from setuptools import setup

HERE = Path(__file__).absolute().parent  # the part's folder, not this link's target
CONTRACT = HERE.parent / "contract"
REQUIREMENTS = (HERE / "requirements.txt").read_text(encoding="utf-8").splitlines()

if (CONTRACT / "pyproject.toml").is_file():
    contract = f"seqserve-contract @ {CONTRACT.as_uri()}"
else:
    contract = "seqserve-contract==0.1.0"

setup(install_requires=[contract, *(r for r in REQUIREMENTS if r and not r.startswith("#"))])
