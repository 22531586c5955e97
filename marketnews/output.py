"""`OutputFile`: one file of the built site, as a path and its bytes. No I/O."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OutputFile:
    path: str  # relative to the output folder, "/"-separated
    data: bytes | None  # None: the file the previous build wrote is still right; keep it
    # "added" or "changed": a worker process already wrote the bytes beside the target
    # under the writer's temporary name (writer.Stager); data is then None.
    staged: str = ""
