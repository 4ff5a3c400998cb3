"""Tiny launcher that reports a command's own peak RSS (the runner's fallback when GNU time is missing).

    python -S -E benchmarks/_spawn.py RSS_FILE -- COMMAND [ARGS...]

Why a launcher at all: Linux keeps the largest RSS a process ever had across `exec`, and a freshly forked
child starts with its parent's resident pages, so `ru_maxrss` of a child spawned straight from the runner is
at least the runner's own RSS. This launcher is small (started with -S -E, stdlib `os` only), so the
command it forks inherits only its few MiB. It writes the command's `ru_maxrss` (KiB) to RSS_FILE and exits
with the command's exit code (128 + signal when killed).
"""

import os
import sys


def main() -> int:
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        sys.stderr.write("usage: _spawn.py RSS_FILE -- COMMAND [ARGS...]\n")
        return 2
    rss_file, argv = sys.argv[1], sys.argv[3:]
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    _pid, status, usage = os.wait4(pid, 0)
    with open(rss_file, "w") as out:
        out.write(f"{usage.ru_maxrss}\n")
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


if __name__ == "__main__":
    sys.exit(main())
