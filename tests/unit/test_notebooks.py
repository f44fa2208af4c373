"""The notebooks: committed without outputs, and they run top to bottom on data/sample."""

from __future__ import annotations

import copy
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import ipykernel.kernelspec
import nbformat
import pandas as pd
import pytest
from nbclient import NotebookClient

import analyzer
from analyzer.vocabulary import FAILURE_STATUSES, OptoutKind, OptoutVerdict

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
SAMPLE = ROOT / "data" / "sample"
NAMES = ("analyst", "support")
CELL_TIMEOUT = 120
MAX_SECONDS = 60
ALLOWED_NB_METADATA = {"kernelspec", "language_info"}
ALLOWED_CELL_METADATA = {"tags"}


def _problems(nb: nbformat.NotebookNode) -> list[str]:
    """What keeps a notebook from being committed as is."""
    found = []
    extra = set(nb.metadata) - ALLOWED_NB_METADATA
    if extra:
        found.append(f"notebook metadata {sorted(extra)}")
    if nb.metadata.get("kernelspec", {}).get("name") != "python3":
        found.append("kernelspec is not python3")
    for i, cell in enumerate(nb.cells):
        extra = set(cell.metadata) - ALLOWED_CELL_METADATA
        if extra:
            found.append(f"cell {i}: metadata {sorted(extra)}")
        if cell.cell_type == "code":
            if cell.outputs:
                found.append(f"cell {i}: {len(cell.outputs)} output(s)")
            if cell.execution_count is not None:
                found.append(f"cell {i}: execution count {cell.execution_count}")
    return found


def _read(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)


def _run(nb: nbformat.NotebookNode, cwd: Path) -> nbformat.NotebookNode:
    NotebookClient(
        nb, timeout=CELL_TIMEOUT, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    ).execute()
    return nb


def _text(cell: nbformat.NotebookNode) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if "text" in out:
            parts.append(out["text"])
        parts.append(out.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


def _cell(nb: nbformat.NotebookNode, cell_id: str) -> nbformat.NotebookNode:
    return next(c for c in nb.cells if c.get("id") == cell_id)


def _snapshot() -> set[Path]:
    """Files a notebook could leave behind: the repo's top level, notebooks/ and data/."""
    paths = set(ROOT.iterdir())
    for folder in (NOTEBOOKS, ROOT / "data"):
        paths.update(p for p in folder.rglob("*") if ".ipynb_checkpoints" not in p.parts)
    return paths


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A python3 kernelspec for this interpreter, found before any user-level one."""
    prefix = tmp_path_factory.mktemp("kernel")
    with pytest.MonkeyPatch.context() as mp:
        ipykernel.kernelspec.install(prefix=str(prefix))
        mp.setenv("JUPYTER_PATH", str(prefix / "share" / "jupyter"))
        yield prefix


@pytest.fixture(scope="module")
def executed(kernel: Path) -> dict[str, tuple[nbformat.NotebookNode, float]]:
    before = _snapshot()
    runs = {}
    for name in NAMES:
        started = time.perf_counter()
        runs[name] = (_run(_read(name), NOTEBOOKS), time.perf_counter() - started)
    left = _snapshot() - before
    assert not left, f"the notebooks wrote into the repo: {sorted(map(str, left))}"
    return runs


@pytest.fixture(scope="module")
def truth() -> pd.DataFrame:
    messages = pd.read_parquet(SAMPLE / "messages.parquet", columns=["sid", "to"])
    return pd.read_parquet(SAMPLE / "truth.parquet").merge(messages, on="sid")


@pytest.fixture(scope="module")
def optout_sends() -> pd.DataFrame:
    """The sends after an opt-out in the sample, as ``run_optouts`` finds them."""
    with tempfile.TemporaryDirectory() as out:
        return analyzer.run_optouts(SAMPLE / "messages.parquet", out)


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebook_is_clean(name: str) -> None:
    nb = _read(name)
    nbformat.validate(nb)
    assert _problems(nb) == []
    assert any(c.cell_type == "markdown" for c in nb.cells)


def test_a_notebook_with_outputs_is_caught() -> None:
    dirty = copy.deepcopy(_read("support"))
    code = next(c for c in dirty.cells if c.cell_type == "code")
    code.execution_count = 3
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="hi\n")]
    code.metadata["execution"] = {"iopub.status.busy": "2026-11-29T00:00:00Z"}
    dirty.metadata["widgets"] = {}
    problems = _problems(dirty)
    assert len(problems) == 4, problems


def test_kernel_runs_this_interpreter(kernel: Path) -> None:
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("import sys\nprint(sys.prefix)\nprint(sys.executable)")]
    )
    prefix, executable = _text(_run(nb, NOTEBOOKS).cells[0]).split()
    assert prefix == sys.prefix
    assert os.path.realpath(executable) == os.path.realpath(sys.executable)


def test_analyst_notebook_runs(
    executed: dict[str, tuple[nbformat.NotebookNode, float]],
    truth: pd.DataFrame,
    optout_sends: pd.DataFrame,
) -> None:
    nb, seconds = executed["analyst"]
    assert seconds < MAX_SECONDS
    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 2

    # Queue redeliveries (about an hour apart) show up only at the wide window.
    redelivered = truth.loc[truth["scenario"] == "queue_redelivery", "to"].unique()
    assert len(redelivered) > 0
    compare = _text(_cell(nb, "compare"))
    for to in redelivered:
        assert to in compare
    assert "queue redelivery" in compare

    # The drill-down takes a recipient of one of the biggest planted groups.
    picked = re.search(r"records to (\+\d+)", _text(_cell(nb, "timeline-pick")))
    assert picked is not None
    sizes = (
        truth.dropna(subset=["group_id"])
        .groupby("group_id")
        .agg(to=("to", "first"), n=("sid", "size"))
    )
    assert picked.group(1) in set(sizes.loc[sizes["n"] == sizes["n"].max(), "to"])

    # Every failed or undelivered outbound record is explained, by category, with an action.
    messages = pd.read_parquet(SAMPLE / "messages.parquet", columns=["direction", "status"])
    outbound = messages["direction"].str.startswith("outbound")
    failed = int((outbound & messages["status"].isin(FAILURE_STATUSES)).sum())
    assert failed > 0
    explained = _text(_cell(nb, "failures"))
    assert f"{failed:,} of {int(outbound.sum()):,} outbound messages did not arrive" in explained
    assert "recipient" in explained and "Stop sending" in explained
    assert "30003" in _text(_cell(nb, "failures-codes"))
    plotted = _cell(nb, "failures-plot").outputs
    assert any("image/png" in o.get("data", {}) for o in plotted)

    # The opt-out keywords by kind, and every send that went out after an opt-out.
    summary = optout_sends.attrs["summary"]
    opt_outs = summary["events_by_kind"][OptoutKind.OPT_OUT]
    counted = _text(_cell(nb, "optouts"))
    assert f"{opt_outs:,} opt-outs" in counted and "STOP" in counted
    assert f"{summary['opted_out_at_end']:,} recipients opted out at the end" in counted
    plotted = _cell(nb, "optouts-plot").outputs
    assert any("image/png" in o.get("data", {}) for o in plotted)
    went = optout_sends.loc[optout_sends["verdict"] == OptoutVerdict.SENT_AFTER_OPT_OUT, "sid"]
    assert len(went) > 0
    shown = _text(_cell(nb, "optouts-sends"))
    assert all(sid in shown for sid in went)
    assert re.search(rf"^{OptoutVerdict.BLOCKED}\s+{summary['blocked']}$", shown, re.M)


def test_support_notebook_runs(
    executed: dict[str, tuple[nbformat.NotebookNode, float]],
    truth: pd.DataFrame,
    optout_sends: pd.DataFrame,
) -> None:
    nb, seconds = executed["support"]
    assert seconds < MAX_SECONDS
    assert "carrier_side" in _text(_cell(nb, "investigate"))
    assert "+12328128904" in _text(_cell(nb, "number"))

    final = _text(nb.cells[-1])
    assert "carrier_side" in final
    twilio_sids = truth.loc[truth["expected_verdict"] == "twilio_side", "sid"]
    assert len(twilio_sids) > 0
    for sid in twilio_sids:
        assert sid in final
    assert "# Duplicate messages: one API request, several Message records" in final

    # The sends after an opt-out, each beside the STOP that opted its recipient out, and in
    # what goes with the ticket.
    assert "+12328128904: 0 keyword messages" in _text(_cell(nb, "optouts"))
    events = optout_sends.attrs["events"]
    went = optout_sends[optout_sends["verdict"] == OptoutVerdict.SENT_AFTER_OPT_OUT]
    stops = events[events["kind"] == OptoutKind.OPT_OUT]
    listed = _text(_cell(nb, "optouts-sent"))
    for sid, to, opted_out_at in zip(went["sid"], went["to"], went["opted_out_at"], strict=True):
        mine = (stops["recipient"] == to) & (stops["date_created"] == opted_out_at)
        stop = stops.loc[mine, "sid"]
        assert sid in listed and len(stop) == 1 and stop.iloc[0] in listed
        assert sid in final.split("sent after an opt-out (no 21610):")[1].splitlines()[0]

    # Inbound: every number the simulator planted a problem on, each unhandled message, and
    # the callback problems by kind, as simulation.json says.
    planted = json.loads((ROOT / "data" / "sample" / "simulation.json").read_text())["inbound"]
    shown = _text(_cell(nb, "inbound"))
    for number, verdict in planted["numbers_with_log"].items():
        if verdict not in ("ok", "idle"):
            assert re.search(rf"{re.escape(number)}.*{verdict}", shown), (number, verdict)
    unhandled = _text(_cell(nb, "inbound-unhandled"))
    assert f"{len(planted['unhandled'])} inbound messages never reached" in unhandled
    assert all(sid in unhandled for sid in planted["unhandled"])
    assert all(sid in final for sid in planted["unhandled"])
    problems = _text(_cell(nb, "callbacks"))
    for problem, sids in planted["callbacks"].items():
        assert re.search(rf"^{problem}\s+{len(sids)}$", problems, re.M), problem
