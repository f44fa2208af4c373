"""The dataset folder of an export: checked before any request, and removed again when
a failed export created it."""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from pathlib import Path

from analyzer.errors import InputError
from analyzer.store import LOCK_FILE


def missing_folders(path: str | Path) -> list[Path]:
    """``path`` and those of its parents that do not exist yet, deepest first."""
    folder = Path(path)
    missing = []
    for candidate in (folder, *folder.parents):
        if candidate.exists() or candidate.is_symlink():
            break
        missing.append(candidate)
    return missing


def check_output_folder(path: str | Path, what: str, *, parents: bool) -> None:
    """InputError unless ``path`` is a writable folder or can be created as one.

    With ``parents=False`` only the folder itself may be missing: a path whose parent
    does not exist is taken for a typo.
    """
    folder = Path(path)
    if folder.exists():
        if not folder.is_dir():
            raise InputError(f"the {what} {folder} is a file, not a folder")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise InputError(f"the {what} folder {folder} is not writable")
        return
    missing = missing_folders(folder)
    base = missing[-1].parent if missing else folder.parent
    if not parents and len(missing) > 1:
        raise InputError(
            f"the {what} folder {folder} does not exist and neither does its parent "
            f"{folder.parent}: check the path"
        )
    if not base.is_dir():
        raise InputError(f"cannot create the {what} folder {folder}: {base} is not a folder")
    if not os.access(base, os.W_OK | os.X_OK):
        raise InputError(f"cannot create the {what} folder {folder}: {base} is not writable")


def remove_created_folders(
    created: Sequence[Path], leftovers: Collection[str] = (LOCK_FILE,)
) -> bool:
    """Undo the folders (``missing_folders`` before the run) a failed run created.

    Only when the deepest one holds nothing but files named in ``leftovers`` (its lock
    files); call it while holding the dataset's write lock. Returns whether they went.
    """
    if not created:
        return False
    root = created[0]
    try:
        names = [p.name for p in root.iterdir()]
        if not set(names) <= set(leftovers):
            return False
        for name in names:
            (root / name).unlink()
        for folder in created:
            folder.rmdir()
    except OSError:
        return False
    return True
