"""`OutputFile`: one file of the built site, as a path and its bytes. No I/O."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OutputFile:
    path: str  # relative to the output folder, "/"-separated
    data: bytes | None  # None: the file the previous build wrote is still right; keep it
    # "added" or "changed": a worker process already wrote the bytes as the spare tree's
    # file at `path` (writer.Stager), for the writer to switch in; data is then None.
    staged: str = ""
