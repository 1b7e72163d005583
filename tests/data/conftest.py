"""A deadline for the tests that start worker processes: a hang fails the test instead."""

import signal

import pytest

DEADLINE_S = 60


@pytest.fixture
def deadline():
    """Raise TimeoutError in the test if it runs past DEADLINE_S seconds (SIGALRM: the main
    thread of a POSIX process; forked workers do not inherit the alarm)."""
    def expire(signum, frame):
        raise TimeoutError(f"the test ran past its {DEADLINE_S} s deadline")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(DEADLINE_S)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)
