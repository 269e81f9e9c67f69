"""Crash chaos during a fan-out (SECURITY P3, P4, O-14): kill -9 listd again and again while
it relays one post to N members through a counting SMTP sink (smtp_test_server.py, which
records a recipient only after its final 250 to the dot).

After the last restart every member must have the post at least once, every recipient row
must be `delivered`, and the duplicates each restart caused (recipients the sink had already
accepted before that kill and got again after it) must be at most one wave in flight:
connections x max_recipients = 4 x 50 = 200 per kill.
CI: 4,000 members, 5 kills; `run --long`: 20,000 members, 20 kills.
(tests/integration/test_relay.py already kills once during a 20,000-member fan-out.)
"""
import collections
import os
import time
import unittest

from chaos_common import LIST, Listd, assert_intact, rng, scale, wait_for
from smtp_test_server import SmtpTestServer

CONNECTIONS, MAX_RCPTS = 4, 50
POST = (b"From: Ana <ana@mired.org>\r\nTo: mi_lista@lists.mired.org\r\nSubject: fan-out\r\n"
        b"Message-ID: <fanout-1@mired.org>\r\n\r\nHola a todos.\r\n")


class FanoutCrash(unittest.TestCase):
    N = scale(4000, 20000)
    KILLS = scale(5, 20)

    def setUp(self):
        self.server = SmtpTestServer().start()
        self.addCleanup(self.server.stop)
        self.l = Listd("host = 127.0.0.1:%d\ntls = none\nretry_initial = 1\nretry_max = 1\nconnections = %d\n"
                       "max_recipients = %d\n" % (self.server.port, CONNECTIONS, MAX_RCPTS), relay_mode="smarthost")
        self.addCleanup(self.l.cleanup)
        self.l.demo()
        path = os.path.join(self.l.root, "members.txt")
        with open(path, "w") as f:
            for i in range(self.N):
                f.write("user%d@example%d.org\n" % (i, i % 50))
        self.l.listctl("members", LIST, "add", "--file", path, check=True, timeout=300)
        self.rand = rng(self)

    def delivered_count(self):
        with self.server.lock:
            return len(self.server.delivered)

    def test_repeated_kill9_mid_fanout(self):
        total = self.N + 2
        # Kill points: KILLS distinct counts of accepted recipients, spread over the first 90 %.
        step = int(total * 0.9) // (self.KILLS + 1)
        points = [step * (k + 1) + self.rand.randrange(-step // 3, step // 3) for k in range(self.KILLS)]
        self.l.start()
        p = self.l.listctl("inject", LIST, "--sender", "ana@mired.org", stdin=POST)
        self.assertEqual(p.returncode, 0, p.stderr)
        restarts = []  # index into server.delivered at each restart
        for point in points:
            wait_for(lambda: self.delivered_count() >= point, 120, interval=0.002, what="%d recipients" % point)
            self.l.kill9()
            time.sleep(0.2)  # let the sink finish reading what listd wrote before it died
            self.assertLess(self.delivered_count(), total, "the fan-out ended before the kill")
            assert_intact(self, self.l)
            restarts.append(self.delivered_count())
            self.l.start()

        def done():
            rows = self.l.sql("SELECT count(*), sum(state = 'delivered') FROM delivery_recipients")
            return rows[0][0] == total and rows[0][1] == total
        wait_for(done, 300, what="every recipient delivered")
        assert_intact(self, self.l)
        with self.server.lock:
            got = [r for _, r in self.server.delivered]
        members = {a for (a,) in self.l.sql("SELECT address FROM delivery_recipients")}
        self.assertEqual(len(members), total)
        self.assertEqual(set(got), members, "a member never got the post")
        per_kill = []
        bounds = restarts + [len(got)]
        for k, start in enumerate(restarts):
            before = set(got[:start])
            per_kill.append(sum(1 for r in got[start:bounds[k + 1]] if r in before))
        dups = sum(n - 1 for n in collections.Counter(got).values())
        print("fan-out chaos: %d recipients, %d kills, duplicates per kill %s (bound %d), total %d" %
              (total, self.KILLS, per_kill, CONNECTIONS * MAX_RCPTS, dups))
        self.assertEqual(sum(per_kill), dups)
        for k, n in enumerate(per_kill):
            self.assertLessEqual(n, CONNECTIONS * MAX_RCPTS, "kill %d re-sent more than one wave" % k)


if __name__ == "__main__":
    unittest.main()
