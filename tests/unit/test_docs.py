"""The README and data/README.md say what the code does: settings, files, install lines."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

from analyzer.nightly import ENV, NightlyConfig
from analyzer.simulate import LOG_FORMATS

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def _nightly_section() -> str:
    return README[README.index("### `analyzer nightly`") : README.index("#### Beyond one machine")]


def test_every_nightly_environment_variable_is_documented() -> None:
    section = _nightly_section()
    missing = [name for name in ENV.values() if f"`{name}`" not in section]
    assert missing == []


def test_every_nightly_setting_is_a_key_of_the_toml_example() -> None:
    toml = re.search(r"```toml\n\[analyzer\]\n(.*?)```", _nightly_section(), re.S)
    assert toml is not None
    keys = {line.split("=")[0].strip() for line in toml.group(1).splitlines() if "=" in line}
    assert keys == {f.name for f in fields(NightlyConfig)}


def test_the_dask_extra_is_installed_from_the_checkout() -> None:
    sources = [README, *(p.read_text() for p in (ROOT / "analyzer").rglob("*.py"))]
    assert not any("'analyzer[dask]'" in text for text in sources)
    assert "pip install -e '.[dask]'" in README


def test_simulations_go_into_a_git_ignored_folder() -> None:
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    for folder in re.findall(r"analyzer simulate --out (\S+)", README):
        top = folder.split("/")[0]
        assert f"/{top}/" in ignored, folder


def test_data_readme_lists_every_sample_log() -> None:
    text = (ROOT / "data" / "README.md").read_text()
    for fmt in LOG_FORMATS:
        name = "server_requests.jsonl" if fmt == "jsonl" else f"server_requests.{fmt}.log"
        assert name in text, name
        assert (ROOT / "data" / "sample" / name).exists(), name
    assert "holds only the jsonl log" not in text
