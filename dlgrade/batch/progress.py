"""Progress of a grading batch: an in-place bar on a terminal, one line per submission otherwise."""
from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

from dlgrade.batch.entries import Entry


class Progress:
    """Told when each submission finishes (``progress(entry, results)``), it shows count/total and
    the time elapsed: a ``tqdm`` bar when ``stream`` is a terminal, else lines like
    ``[3/20] alice: 21/24 (12 s)``."""

    def __init__(self, stream: TextIO | None = None, tty: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.tty = _isatty(self.stream) if tty is None else tty
        self.total = self.done = 0
        self.started = time.monotonic()
        self.bar = None
        self.stopped = threading.Event()

    def start(self, total: int) -> None:
        """A batch of ``total`` submissions starts."""
        self.total, self.done, self.started = total, 0, time.monotonic()
        if self.tty:
            from tqdm import tqdm

            self.bar = tqdm(total=total, file=self.stream, desc="grading", unit="sub", dynamic_ncols=True,
                            bar_format="{desc} {n_fmt}/{total_fmt} |{bar}| {elapsed} elapsed{postfix}")
            threading.Thread(target=self._tick, args=(self.bar,), daemon=True).start()

    def _tick(self, bar) -> None:
        """Redraw the bar every second, so the elapsed time runs between finished submissions."""
        while not self.stopped.wait(1.0):
            bar.refresh()

    def __call__(self, entry: Entry, results: dict) -> None:
        self.done += 1
        score = f"{results.get('score', 0):g}/{results.get('max_score', 0):g}"
        if self.bar is not None:
            self.bar.set_postfix_str(f"last: {entry.display} {score}", refresh=False)
            self.bar.update(1)
        else:
            elapsed = time.monotonic() - self.started
            print(f"[{self.done}/{self.total}] {entry.display}: {score} ({elapsed:.0f} s)",
                  file=self.stream, flush=True)

    def close(self) -> None:
        """The batch is over: finish the bar."""
        self.stopped.set()
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
