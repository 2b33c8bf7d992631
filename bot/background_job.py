"""One background thread per job, re-run once if asked again while it runs: calibration and
classifier retrains must never make a member's message wait, nor run twice at once."""

from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)


class RerunningJob:
    """Runs `_pass` in one thread; a `start` while it runs asks for one more pass after it."""

    name = "deskhand-job"

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._again = False
        self._guard = threading.Lock()

    def running(self) -> bool:
        """A pass is under way."""
        return self._thread is not None

    def needed(self) -> bool:
        """Whether a start with nothing running should start a thread at all."""
        return True

    def start(self) -> None:
        """Run in the background now (once more after it, if asked again while it runs)."""
        with self._guard:
            if self._thread is not None:
                self._again = True
                return
            if not self.needed():
                return
            # not a daemon: exiting mid-pass would abort inside native search or training code
            self._thread = threading.Thread(target=self._run, name=self.name)
            self._thread.start()

    def wait(self) -> None:
        """Block until a running pass has finished (no-op when none runs)."""
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _begin(self) -> None:
        """Reset per-thread state before the first pass."""

    def _pass(self) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        self._begin()
        while True:
            try:
                self._pass()
            except Exception:  # the job's previous result stays in use
                log.exception("background job %s failed", self.name)
            with self._guard:
                if not self._again:
                    self._thread = None
                    return
                self._again = False
