"""Per-split benchmark records that accumulate across runs: a JSON-lines file, one record per fit.

The UCI benchmark (9 data sets x 5 methods x up to 20 splits) does not fit one sitting on two cores, so every
finished fit is appended at once: a stopped run keeps what it finished and the next run fits only what is
missing. A record stands for its (data set, method, split) only while its options equal the method's current
options; records of other options stay in the file (history) but are not used.

    >>> import tempfile, pathlib
    >>> store = SplitStore(pathlib.Path(tempfile.mkdtemp()) / "splits.jsonl")
    >>> store.add({"set": "yacht", "method": "map", "split": 0, "options": {"steps": 2000}, "rmse": 0.5})
    >>> store.find("yacht", "map", 0, {"steps": 2000})["rmse"], store.find("yacht", "map", 0, {"steps": 10})
    (0.5, None)
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The fields that say what a record is; the rest (scores, seconds, provenance) say what it measured.
KEY_FIELDS = ("set", "method", "split", "options")


@dataclass(frozen=True)
class SplitStore:
    """A JSON-lines file of per-split records (``path`` need not exist yet)."""

    path: Path

    def records(self) -> list[dict[str, Any]]:
        """Every record in file order; a line that is not a JSON object with :data:`KEY_FIELDS` is an error."""
        if not self.path.is_file():
            return []
        out = []
        for number, line in enumerate(self.path.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{self.path}:{number}: not a JSON record ({err.msg})") from None
            missing = [f for f in KEY_FIELDS if not isinstance(record, dict) or f not in record]
            if missing:
                raise ValueError(f"{self.path}:{number}: record lacks {', '.join(missing)}")
            out.append(record)
        return out

    def find(self, name: str, method: str, split: int, options: dict[str, Any]) -> dict[str, Any] | None:
        """The latest record of ``method`` on split ``split`` of ``name`` fitted with exactly ``options``."""
        found = None
        for record in self.records():
            if (record["set"], record["method"], record["split"], record["options"]) == (name, method, split, options):
                found = record
        return found

    def add(self, record: dict[str, Any]) -> None:
        """Append ``record`` as one line, flushed to disk before returning."""
        missing = [f for f in KEY_FIELDS if f not in record]
        if missing:
            raise ValueError(f"record lacks {', '.join(missing)}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as f:
            f.write(json.dumps(record, sort_keys=True) + "\n")
            f.flush()
            os.fsync(f.fileno())
