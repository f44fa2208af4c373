"""Checks on where a command writes its results."""

from __future__ import annotations

from pathlib import Path

from analyzer.atomic import ensure_output_dir
from analyzer.errors import InputError


def check_output(out_dir: str | Path, source: str | Path) -> None:
    """Refuse, before any work, an output folder inside the input or one that cannot be
    made or written (InputError naming it)."""
    check_output_outside(out_dir, source)
    ensure_output_dir(out_dir, create=False)


def check_output_outside(out_dir: str | Path, source: str | Path) -> None:
    """Refuse an output folder that is the input dataset folder or lies inside it.

    Results written there (clusters.parquet, carrier.parquet, ...) would be read back
    as message records the next time the dataset is read. A Parquet file as ``source``
    has nothing inside it and is left to the other checks. Raises InputError.
    """
    dataset = Path(source).resolve()
    if not dataset.is_dir():
        return
    out = Path(out_dir).resolve()
    if out == dataset or dataset in out.parents:
        where = "is the input dataset" if out == dataset else "is inside the input dataset"
        raise InputError(f"the output folder {out_dir} {where} {source}: choose one outside it")
