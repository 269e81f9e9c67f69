"""chaos_common - what the chaos tests share: the CI/long switch, the random seed, and the
integration harness (tests/integration/listd_harness.py, imported from there).

CI runs the short form (ctest). `tests/chaos/run --long` (or CHAOS_LONG=1) runs the long form
the issue asks for: 50 kills during intake, 20 kills during a 20,000-recipient fan-out, ...
CHAOS_SEED=N replays the same random choices (kill moments still depend on timing); every test
prints the seed it used.
"""
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from listd_harness import BIN, Listd, free_port, read, wait_for  # noqa: E402,F401

LONG = os.environ.get("CHAOS_LONG", "") not in ("", "0")
SEED = int(os.environ.get("CHAOS_SEED", "0")) or random.SystemRandom().randrange(1, 1 << 30)
LIST = "mi_lista@lists.mired.org"


def scale(ci, long):
    """The CI figure, or the long one under `run --long`."""
    return long if LONG else ci


def rng(test):
    """A Random seeded from CHAOS_SEED and the test's name; prints the seed for a replay."""
    print("\n%s: CHAOS_SEED=%d%s" % (test.id(), SEED, " (long form)" if LONG else ""), file=sys.stderr)
    return random.Random("%d/%s" % (SEED, test.id()))


def assert_intact(test, listd):
    """The store passes SQLite's own check."""
    test.assertEqual(listd.integrity_check(), ["ok"])
