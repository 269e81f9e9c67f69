"""Bounce handling against a real listd: `listctl bounce-check` on every sample, and a DSN for
bob moving him to disabled (owner told), then warned, then removed.
"""
import glob
import os
import unittest

from listd_harness import BIN, Listd, wait_for

DATA = os.path.join(os.path.dirname(__file__), "..", "data", "bounces")


class BounceCheckTest(unittest.TestCase):
    def test_every_sample(self):
        expected = {
            "dsn_postfix.eml": "gone@example.org\tpermanent\t5.1.1",
            "dsn_delayed.eml": "slow@example.org\ttemporary\t4.4.1",
            "exim.eml": "nobody@example.net\tpermanent",
            "qmail.eml": "olduser@qmail.example.com\tpermanent",
            "sendmail.eml": "prof@sm.example.edu\tpermanent",
            "exchange.eml": "jdoe@corp.example.com\tpermanent",
        }
        files = sorted(glob.glob(os.path.join(DATA, "*.eml")))
        self.assertGreaterEqual(len(files), 7)
        import subprocess
        for path in files:
            with open(path, "rb") as f:
                p = subprocess.run([os.path.join(BIN, "listctl"), "bounce-check"], stdin=f, capture_output=True,
                                   timeout=30)
            self.assertEqual(p.returncode, 0, p.stderr)
            out = p.stdout.decode()
            name = os.path.basename(path)
            if name in expected:
                self.assertTrue(out.startswith("bounce: yes"), (name, out))
                self.assertIn(expected[name], out, name)
            else:
                self.assertTrue(out.startswith("bounce: no"), (name, out))


class BounceScoringTest(unittest.TestCase):
    def setUp(self):
        self.l = Listd()
        self.l.demo()
        for k, v in (("bounce_threshold", "1"), ("bounce_warnings", "1")):
            self.l.listctl("settings", "mi_lista@lists.mired.org", k, v, check=True)

    def tearDown(self):
        self.l.cleanup()

    def member(self, email):
        rows = self.l.sql("SELECT m.disabled FROM memberships m JOIN people p ON p.id = m.person_id "
                          "WHERE p.email = ? AND m.role = 'member'", email)
        return rows[0][0] if rows else None

    def mails_to(self, who, text):
        n = 0
        for path in self.l.outbox():
            with open(path, "rb") as f:
                data = f.read()
            if ("Delivered-To: " + who).encode() in data and text.encode() in data:
                n += 1
        return n

    def test_dsn_disables_then_warns_then_removes(self):
        with open(os.path.join(DATA, "dsn_postfix.eml"), "rb") as f:
            dsn = f.read().replace(b"gone@example.org", b"bob@mired.org")
        self.l.start()
        p = self.l.listctl("pipe", "lists.mired.org", "mi_lista-bounces", "--sender", "", stdin=dsn)
        self.assertEqual(p.returncode, 0, p.stderr)
        wait_for(lambda: self.member("bob@mired.org") == 1, what="bob disabled")
        wait_for(lambda: self.mails_to("ana@mired.org", "bob@mired.org was disabled"), what="owner told")
        self.assertIn("ev=bounce-disabled", self.l.log())
        # A post no longer goes to bob.
        self.l.listctl("inject", "mi_lista@lists.mired.org", "--sender", "ana@mired.org",
                       stdin=b"From: ana@mired.org\nSubject: after\n\nx\n", check=True)
        wait_for(lambda: self.mails_to("ana@mired.org", "[mi_lista] after"), what="post to ana")
        self.assertEqual(self.mails_to("bob@mired.org", "[mi_lista] after"), 0)
        # Maintenance (at start and every tick) sends the warning...
        self.l.stop()
        self.l.start()
        wait_for(lambda: self.mails_to("bob@mired.org", "has been disabled"), what="warning to bob")
        # ...and once the last warning's interval is over, removes him.
        self.l.sql("UPDATE bounce_scores SET next_warning = 1")
        self.l.stop()
        self.l.start()
        wait_for(lambda: self.member("bob@mired.org") is None, what="bob removed")
        wait_for(lambda: self.mails_to("ana@mired.org", "bob@mired.org was removed"), what="owner told of removal")


class RelayFailureScoringTest(unittest.TestCase):
    """A 5xx from the smarthost at delivery feeds the same scoring as a DSN."""

    def setUp(self):
        from smtp_test_server import SmtpTestServer
        self.server = SmtpTestServer()
        self.server.rcpt_reply = lambda rcpt, attempt: "550 5.1.1 no such user" if rcpt == "bob@mired.org" else None
        self.server.start()
        self.l = Listd("host = 127.0.0.1:%d\ntls = none\n" % self.server.port, relay_mode="smarthost")
        self.l.demo()
        self.l.listctl("settings", "mi_lista@lists.mired.org", "bounce_threshold", "1", check=True)

    def tearDown(self):
        self.l.cleanup()
        self.server.stop()

    def test_relay_5xx_disables_the_member(self):
        self.l.start()
        self.l.listctl("inject", "mi_lista@lists.mired.org", "--sender", "ana@mired.org",
                       stdin=b"From: ana@mired.org\nSubject: hola\n\nx\n", check=True)
        wait_for(lambda: self.l.sql("SELECT count(*) FROM delivery_recipients WHERE state = 'failed'")[0][0] == 1,
                 what="bob failed at the relay")
        self.l.stop()
        self.l.start()  # the scoring runs with the periodic maintenance (start, then every tick)
        wait_for(lambda: self.l.sql("SELECT m.disabled FROM memberships m JOIN people p ON p.id = m.person_id "
                                    "WHERE p.email = 'bob@mired.org' AND m.role = 'member'") == [(1,)],
                 what="bob disabled")
        self.assertIn("format=relay", self.l.log())


class EveryFormatDisablesTest(unittest.TestCase):
    """One bounce of each format in tests/data/bounces/, sent over SMTP with a null sender to
    NAME-bounces, moves its member to disabled (threshold 1; the delayed DSN counts 0.5)."""

    def test_each_format(self):
        import smtplib
        l = Listd()
        self.addCleanup(l.cleanup)
        l.demo()
        l.listctl("settings", "mi_lista@lists.mired.org", "bounce_threshold", "1", check=True)
        samples = {"dsn_postfix.eml": "gone@example.org", "exim.eml": "nobody@example.net",
                   "qmail.eml": "olduser@qmail.example.com", "sendmail.eml": "prof@sm.example.edu",
                   "exchange.eml": "jdoe@corp.example.com", "dsn_delayed.eml": "slow@example.org"}
        l.listctl("members", "mi_lista@lists.mired.org", "add", *samples.values(), check=True)
        l.start()
        for name in samples:
            with open(os.path.join(DATA, name), "rb") as f:
                data = f.read()
            with smtplib.SMTP("127.0.0.1", l.smtp_port, timeout=20) as s:
                crlf = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
                self.assertEqual(s.sendmail("", ["mi_lista-bounces@lists.mired.org"], crlf), {})
        def disabled():
            rows = l.sql("SELECT p.email FROM memberships m JOIN people p ON p.id = m.person_id "
                         "WHERE m.disabled = 1 AND m.role = 'member' ORDER BY p.email")
            return sorted(r[0] for r in rows)
        permanent = sorted(a for n, a in samples.items() if n != "dsn_delayed.eml")
        wait_for(lambda: disabled() == permanent, what="every permanent bounce disabled its member")
        wait_for(lambda: l.sql("SELECT score FROM bounce_scores b JOIN people p ON p.id = b.person_id "
                               "WHERE p.email = 'slow@example.org'") == [(0.5,)], what="the delayed DSN counted 0.5")
        self.assertEqual(disabled(), permanent)


if __name__ == "__main__":
    unittest.main()
