"""Integration tests of the SMTP relay (relay.mode = smarthost | mx) against a real listd.

The scripted asyncio server (smtp_test_server.py) plays the smarthost: 4xx and 5xx on some
RCPTs, 421 at the greeting, a drop in the middle of DATA, slow answers, no PIPELINING,
CHUNKING, STARTTLS with a certificate made at test time, AUTH. MX mode asks a dnsmasq started
on a free loopback port. The crash test kills listd -9 in the middle of a 20,000-recipient
fan-out and checks that every recipient got the post once, duplicates bounded by
connections x max_recipients. Every test checks each recipient's final state in SQLite.
"""
import collections
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

from listd_harness import Listd, wait_for
from smtp_test_server import SmtpTestServer

LIST = "mi_lista@lists.mired.org"
POST = (b"From: Ana <ana@mired.org>\r\nTo: mi_lista@lists.mired.org\r\nSubject: Hola\r\n"
        b"Message-ID: <relay-1@mired.org>\r\n\r\n.a line starting with a dot\r\nHola a todos.\r\n")


def free_port(kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class RelayCase(unittest.TestCase):
    server_setup = None
    extra = ""
    relay_mode = "smarthost"
    members = ()

    def setUp(self):
        # Cleanups are registered as each piece starts, so a failing setUp leaves nothing behind.
        self.server = SmtpTestServer()
        if self.server_setup:
            self.server_setup()
        self.server.start()
        self.addCleanup(self.server.stop)
        tls = "" if "tls =" in self.extra else "tls = none\n"
        self.l = Listd("host = 127.0.0.1:%d\nretry_initial = 1\nretry_max = 1\n%s%s" %
                       (self.server.port, tls, self.extra), relay_mode=self.relay_mode)
        self.addCleanup(self.l.cleanup)
        self.l.demo()
        if self.members:
            self.l.listctl("members", LIST, "add", *self.members, check=True)

    def post(self):
        p = self.l.listctl("inject", LIST, "--sender", "ana@mired.org", stdin=POST)
        self.assertEqual(p.returncode, 0, p.stderr)

    def states(self):
        return dict(self.l.sql("SELECT address, state FROM delivery_recipients"))

    def wait_final(self, timeout=20):
        def done():
            rows = self.l.sql("SELECT count(*), sum(state IN ('delivered','failed')) FROM delivery_recipients")
            jobs = self.l.sql("SELECT count(*), sum(done) FROM delivery_jobs")
            return rows[0][0] > 0 and rows[0][0] == rows[0][1] and jobs[0][0] == jobs[0][1]
        try:
            wait_for(done, timeout, what="every recipient final")
        except AssertionError:
            raise AssertionError("not final after %ds: %s\n%s" % (timeout, self.states(), self.l.log()[-3000:]))
        return self.states()


class SmarthostResults(RelayCase):
    members = ("good1@x.org", "good2@x.org", "bad1@x.org", "later1@x.org", "good3@y.org", "bad2@y.org")
    extra = "max_recipients = 3\nconnections = 2\n"

    def server_setup(self):
        def rcpt(addr, attempt):
            if addr.startswith("bad"):
                return "550 5.1.1 no such user"
            if addr.startswith("later") and attempt <= 2:
                return "450 4.2.1 mailbox busy"
            return None
        self.server.rcpt_reply = rcpt

    def test_each_recipient_ends_right_and_4xx_is_retried(self):
        self.l.start()
        self.post()
        st = self.wait_final()
        expect_ok = {"ana@mired.org", "bob@mired.org", "good1@x.org", "good2@x.org", "good3@y.org", "later1@x.org"}
        self.assertEqual({a for a, s in st.items() if s == "delivered"}, expect_ok)
        self.assertEqual({a for a, s in st.items() if s == "failed"}, {"bad1@x.org", "bad2@y.org"})
        # every delivered recipient reached the server exactly once
        self.assertEqual(collections.Counter(self.server.rcpts()), collections.Counter(expect_ok))
        self.assertEqual(self.server.attempts["later1@x.org"], 3)
        self.assertEqual(self.l.sql("SELECT attempts FROM delivery_recipients WHERE address = 'later1@x.org'"), [(3,)])
        fails = self.l.sql("SELECT address, last_reply FROM delivery_failures ORDER BY address")
        self.assertEqual(fails, [("bad1@x.org", "550 5.1.1 no such user"), ("bad2@y.org", "550 5.1.1 no such user")])
        # PIPELINING: MAIL, the RCPTs and DATA arrived together; at most 3 recipients a transaction
        self.assertGreater(self.server.reads_with_many_commands, 0)
        mails = [c for c in self.server.commands if c.startswith("MAIL")]
        self.assertGreaterEqual(len(mails), 3)
        # the body went out dot-stuffed and came back intact
        self.assertIn(b"\r\n.a line starting with a dot\r\n", self.server.bodies[0])
        q = self.l.listctl("queue", "--all", check=True).stdout.decode()
        self.assertIn("RATE/S", q)
        self.assertRegex(q, r"post\s+8\s+6\s+0\s+2\s+0")


class GreetingAndDataDrop(RelayCase):
    def server_setup(self):
        self.server.greeting_421 = 1
        self.server.drop_in_data = 1

    def test_421_and_mid_data_drop_retry_the_whole_transaction(self):
        self.l.start()
        self.post()
        st = self.wait_final()
        self.assertEqual(st, {"ana@mired.org": "delivered", "bob@mired.org": "delivered"})
        self.assertEqual(sorted(self.server.rcpts()), ["ana@mired.org", "bob@mired.org"])
        self.assertGreaterEqual(self.server.connections, 3)  # 421, dropped, then good
        attempts = self.l.sql("SELECT attempts FROM delivery_recipients")
        self.assertEqual(attempts, [(3,), (3,)])
        self.assertIn("421", self.l.log())


class SlowWithoutPipelining(RelayCase):
    members = ("c@x.org", "d@x.org")

    def server_setup(self):
        self.server.pipelining = False
        self.server.delay = 0.05

    def test_one_command_per_write_when_pipelining_is_not_offered(self):
        self.l.start()
        self.post()
        st = self.wait_final()
        self.assertEqual(set(st.values()), {"delivered"})
        self.assertEqual(self.server.reads_with_many_commands, 0)
        self.assertEqual(sorted(self.server.rcpts()), sorted(st))


class StalledServerTimesOut(RelayCase):
    extra = "command_timeout = 1\n"

    def server_setup(self):
        self.server.delay = 2.5

    def test_a_stalled_server_defers(self):
        self.l.start()
        self.post()
        wait_for(lambda: self.l.sql("SELECT count(*) FROM delivery_recipients WHERE state = 'deferred'") == [(2,)], 15,
                 what="deferred after the timeout")
        self.assertEqual(self.server.rcpts(), [])


class ChunkingAndVerp(RelayCase):
    members = ("c@x.org",)

    def server_setup(self):
        self.server.chunking = True

    def test_bdat_and_one_transaction_per_recipient_with_verp(self):
        self.l.listctl("settings", LIST, "verp", "yes", check=True)
        self.l.start()
        self.post()
        st = self.wait_final()
        self.assertEqual(set(st.values()), {"delivered"})
        self.assertEqual(sorted(self.server.delivered),
                         [("mi_lista-bounces+ana=mired.org@lists.mired.org", "ana@mired.org"),
                          ("mi_lista-bounces+bob=mired.org@lists.mired.org", "bob@mired.org"),
                          ("mi_lista-bounces+c=x.org@lists.mired.org", "c@x.org")])
        self.assertTrue(any(c.startswith("BDAT ") for c in self.server.commands))
        self.assertFalse(any(c == "DATA" for c in self.server.commands))
        # BDAT carries the message unstuffed, CRLF
        self.assertIn(b"\r\n.a line starting with a dot\r\n", self.server.bodies[0])


def split_message(raw):
    head, _, body = raw.partition(b"\r\n\r\n")
    return head.decode("utf-8", "replace"), body.decode("utf-8", "replace")


class Personalized(RelayCase):
    """personalize = footer | full: one transaction per member, each with its own VERP sender,
    footer, unsubscribe link and List-Unsubscribe header (and To: in full mode)."""
    members = ("c@x.org", "d+tag@y.org")

    def deliveries(self):
        with self.server.lock:
            return list(zip(self.server.delivered, self.server.bodies))

    def check_each_member_own_copy(self, full):
        got = self.deliveries()
        self.assertEqual(sorted(r for (_, r), _ in got), ["ana@mired.org", "bob@mired.org", "c@x.org", "d+tag@y.org"])
        for (sender, rcpt), raw in got:
            local, domain = rcpt.split("@")
            self.assertEqual(sender, "mi_lista-bounces+%s=%s@lists.mired.org" % (local, domain))
            head, body = split_message(raw)
            quoted = rcpt.replace("+", "%2B").replace("@", "%40")
            # the footer, once, naming this member and no other
            self.assertEqual(body.count("You are subscribed as "), 1, body)
            self.assertIn("You are subscribed as %s\r\n" % rcpt, body)
            self.assertIn("/lists/mi_lista@lists.mired.org/unsubscribe?address=%s\r\n" % quoted, body)
            for other in self.members + ("ana@mired.org", "bob@mired.org"):
                if other != rcpt:
                    self.assertNotIn(other, body)
            self.assertEqual(head.count("List-Unsubscribe:"), 1, head)
            self.assertIn("unsubscribe?address=%s>" % quoted, head)
            # the body's own dot line arrives intact (stuffed on the wire, unstuffed by the server)
            self.assertIn(".a line starting with a dot\r\nHola a todos.\r\n", body)
            if full:
                self.assertIn("\r\nTo: %s\r\n" % rcpt, "\r\n" + head)
                self.assertNotIn("To: mi_lista@", head)
            else:
                self.assertIn("To: mi_lista@lists.mired.org", head)

    def test_footer_mode_each_member_gets_own_footer_and_verp_sender(self):
        self.l.listctl("settings", LIST, "personalize", "footer", check=True)
        self.l.start()
        self.post()
        st = self.wait_final()
        self.assertEqual(set(st.values()), {"delivered"})
        self.assertEqual(len([c for c in self.server.commands if c.startswith("MAIL")]), 4)
        self.check_each_member_own_copy(full=False)
        # the archive keeps the post without any footer
        p = self.l.sql("SELECT personalize, footer FROM delivery_jobs")
        self.assertEqual(p[0][0], "footer")
        self.assertIn("\x1flistd:member_address\x1f", p[0][1])

    def test_full_mode_with_bdat_sets_to(self):
        self.server.chunking = True
        self.l.listctl("settings", LIST, "personalize", "full", check=True)
        self.l.start()
        self.post()
        st = self.wait_final()
        self.assertEqual(set(st.values()), {"delivered"})
        self.assertTrue(any(c.startswith("BDAT ") for c in self.server.commands))
        self.check_each_member_own_copy(full=True)

    def test_bad_value_is_refused(self):
        p = self.l.listctl("settings", LIST, "personalize", "sometimes")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"expected none, footer or full", p.stderr)


class StarttlsAndAuth(RelayCase):
    extra = "auth_user = relayuser\nauth_password = s3cret pass\n"

    def server_setup(self):
        self.tmp = tempfile.mkdtemp(prefix="relay-tls-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        key, crt = os.path.join(self.tmp, "k.pem"), os.path.join(self.tmp, "c.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt,
                        "-days", "1", "-subj", "/CN=localhost"], check=True, capture_output=True)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(crt, key)
        self.server.starttls = True
        self.server.tls_context = ctx
        self.server.auth = ("relayuser", "s3cret pass")
        self.extra = self.extra + "tls = required\n"



    def test_required_tls_then_auth_plain(self):
        self.l.start()
        self.post()
        st = self.wait_final()
        self.assertEqual(set(st.values()), {"delivered"})
        self.assertGreaterEqual(self.server.tls_sessions, 1)
        self.assertGreaterEqual(self.server.auth_ok, 1)
        idx_tls = self.server.commands.index("STARTTLS")
        self.assertTrue(any(c.startswith("AUTH PLAIN") for c in self.server.commands[idx_tls:]))
        self.assertFalse(any(c.startswith("AUTH") for c in self.server.commands[:idx_tls]))


class OpportunisticTlsFallsBack(RelayCase):
    extra = "tls = opportunistic\n"

    def server_setup(self):
        # STARTTLS offered, but the server has no certificate: every handshake fails.
        self.server.starttls = True
        self.server.tls_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)

    def test_failed_handshake_then_plaintext(self):
        self.l.start()
        self.post()
        st = self.wait_final()
        self.assertEqual(set(st.values()), {"delivered"})
        self.assertEqual(self.server.tls_sessions, 0)
        self.assertGreaterEqual(self.server.connections, 2)
        self.assertIn("retrying without TLS", self.l.log())


class TlsRequiredButNotOffered(RelayCase):
    extra = "tls = required\n"

    def test_required_tls_without_starttls_defers(self):
        self.l.start()
        self.post()
        wait_for(lambda: self.l.sql("SELECT count(*) FROM delivery_recipients WHERE state = 'deferred'") == [(2,)], 10,
                 what="deferred")
        self.assertEqual(self.server.rcpts(), [])
        self.assertIn("requires STARTTLS", self.l.sql("SELECT last_reply FROM delivery_recipients")[0][0])


@unittest.skipUnless(shutil.which("dnsmasq"), "dnsmasq not installed (scripts/install-deps --test)")
class MxMode(RelayCase):
    relay_mode = "mx"
    members = ("c@uno.test", "d@dos.test", "e@nowhere.test")

    def server_setup(self):
        self.dns_port = free_port(socket.SOCK_DGRAM)
        self.dns = subprocess.Popen(
            ["dnsmasq", "--no-daemon", "--no-resolv", "--no-hosts", "--bind-interfaces", "--listen-address=127.0.0.1",
             "--port=%d" % self.dns_port, "--user=" + ("root" if os.geteuid() == 0 else ""),
             # uno.test: the preferred MX is down (127.0.0.2: nothing listens), the second takes it
             "--mx-host=uno.test,mx1.uno.test,10", "--mx-host=uno.test,mx2.uno.test,20",
             "--host-record=mx1.uno.test,127.0.0.2", "--host-record=mx2.uno.test,127.0.0.1",
             "--mx-host=dos.test,mx1.dos.test,5", "--mx-host=dos.test,mx2.dos.test,50",
             "--host-record=mx1.dos.test,127.0.0.3", "--host-record=mx2.dos.test,127.0.0.1",
             "--mx-host=mired.org,mx.mired.org,10", "--host-record=mx.mired.org,127.0.0.1",
             "--local=/test/", "--local=/org/"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.addCleanup(self._stop_dns)
        time.sleep(0.3)
        if self.dns.poll() is not None:
            self.fail("dnsmasq did not start: " + self.dns.stderr.read().decode())
        # the sink must listen on the same port as the "MX hosts" on 127.0.0.x
        self.server.port = free_port()
        self.extra = "resolver = 127.0.0.1:%d\nmx_port = %d\n" % (self.dns_port, self.server.port)

    def _stop_dns(self):
        self.dns.terminate()
        try:
            self.dns.wait(5)
        except subprocess.TimeoutExpired:
            self.dns.kill()
            self.dns.wait()
        self.dns.stderr.close()

    def test_mx_priorities_fallback_and_nxdomain(self):
        self.l.start()
        self.post()
        st = self.wait_final()
        self.assertEqual(st, {"ana@mired.org": "delivered", "bob@mired.org": "delivered", "c@uno.test": "delivered",
                              "d@dos.test": "delivered", "e@nowhere.test": "failed"})
        self.assertEqual(sorted(self.server.rcpts()), ["ana@mired.org", "bob@mired.org", "c@uno.test", "d@dos.test"])
        # one transaction per domain
        self.assertEqual(len([c for c in self.server.commands if c.startswith("MAIL")]), 3)
        self.assertIn("5.1.2", self.l.sql("SELECT last_reply FROM delivery_recipients WHERE address = 'e@nowhere.test'")[0][0])
        self.assertIn("127.0.0.2", self.l.log())  # the down MX was tried first


class CrashMidFanout(RelayCase):
    extra = "connections = 4\nmax_recipients = 50\n"
    N = 20000

    def setUp(self):
        super().setUp()
        path = os.path.join(self.l.root, "members.txt")
        with open(path, "w") as f:
            for i in range(self.N):
                f.write("user%d@example%d.org\n" % (i, i % 50))
        self.l.listctl("members", LIST, "add", "--file", path, check=True, timeout=120)

    def test_kill9_mid_fanout_then_every_recipient_once_or_bounded(self):
        self.l.start()
        self.post()
        wait_for(lambda: len(self.server.rcpts()) >= 3000, 60, what="fan-out under way")
        self.l.kill9()
        at_kill = len(self.server.rcpts())
        self.assertLess(at_kill, self.N + 2, "the fan-out ended before the kill; nothing was tested")
        self.l.start()
        st = self.wait_final(timeout=120)
        self.assertEqual(len(st), self.N + 2)
        self.assertEqual(set(st.values()), {"delivered"})
        got = collections.Counter(self.server.rcpts())
        self.assertEqual(set(got), set(st))  # everyone received it
        dups = sum(n - 1 for n in got.values())
        self.assertLessEqual(dups, 4 * 50)  # only the transactions in flight at the kill (one per connection)



class CrashMidVerpFanout(CrashMidFanout):
    """With VERP every member is one transaction; outcomes are committed (fsynced) whenever the
    recipients finished-but-uncommitted plus those in flight would pass connections x
    max_recipients, so after kill -9 (or a power loss) at most 4 x 50 are sent again."""
    N = 3000

    def test_kill9_mid_fanout_then_every_recipient_once_or_bounded(self):
        self.l.listctl("settings", LIST, "verp", "yes", check=True)
        self.l.start()
        self.post()
        wait_for(lambda: len(self.server.rcpts()) >= 600, 60, what="fan-out under way")
        self.l.kill9()
        self.assertLess(len(self.server.rcpts()), self.N + 2, "the fan-out ended before the kill; nothing was tested")
        self.l.start()
        st = self.wait_final(timeout=120)
        self.assertEqual(set(st.values()), {"delivered"})
        got = collections.Counter(self.server.rcpts())
        self.assertEqual(set(got), set(st))
        dups = sum(n - 1 for n in got.values())
        self.assertLessEqual(dups, 4 * 50)  # the duplicate budget: connections x max_recipients


if __name__ == "__main__":
    unittest.main()
