"""environment.yml (the GPU user's conda environment) names what pyproject.toml installs."""
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(spec: str) -> str:
    return re.split(r"[<>=!~\[ ;]", spec.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_names_the_same_packages_as_pyproject():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda, pip = set(), set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip |= {_name(d) for d in dep["pip"]}
        else:
            conda.add(_name(dep))
    named = (conda | pip) - {"python", "pip"}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(d) for d in project["dependencies"]}
    for extra in ("gpu", "notebook", "dev", "ray", "bench"):
        wanted |= {_name(d) for d in project["optional-dependencies"][extra]}
    assert named == wanted, f"only in environment.yml: {named - wanted}; only in pyproject: {wanted - named}"
    assert {"vllm", "bitsandbytes", "jupyterlab", "trl", "peft", "ray", "math-verify"} <= named
