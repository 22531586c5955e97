"""Ask the kernel to start reading files that a build is about to read. I/O only.

A build reads thousands of small files (articles, its memo's pages, the pages it writes
over). When they are not in the page cache, each read waits for the disk in turn; told
beforehand (posix_fadvise WILLNEED), the kernel fetches them all at once, and the reads
that follow find them in memory. On a machine whose cache holds them already this costs
a few system calls per file and changes nothing else.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable

_WILLNEED = getattr(os, "POSIX_FADV_WILLNEED", None)
# Never follow a link (what it points to is checked before it is read, if ever), never
# wait on a FIFO, never hand the descriptor to a child.
_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def readahead(paths: Iterable[str | os.PathLike[str]], tail: int = 0) -> None:
    """Start reading each file of `paths` into the page cache, without waiting for it;
    with `tail`, only its last `tail` bytes. A link is not followed (at the last step of
    the path), a file that cannot be opened is skipped, and so is, once opened (read-only,
    never waiting), all but a plain file (a FIFO, a device); where the system has no
    posix_fadvise, nothing is done."""
    if _WILLNEED is None:
        return
    for path in paths:
        try:
            fd = os.open(path, _FLAGS)
        except OSError:
            continue
        try:
            st = os.fstat(fd)
            if stat.S_ISREG(st.st_mode):  # not a FIFO, nor a device (the advice would read all of it)
                os.posix_fadvise(fd, max(st.st_size - tail, 0) if tail else 0, 0, _WILLNEED)
        except OSError:
            pass
        finally:
            os.close(fd)
