"""A real Postfix in front of listd, configured from contrib/postfix/ (issue 3).

Each test starts its own Postfix instance (listd_harness.Postfix: `postfix -c DIR start` with
private config, queue and data directories under a temp dir, smtpd on a free loopback port, no
chroot), hands lists.mired.org to listd through the pipe path (the contrib master.cf `listd`
entry running `listctl pipe ${nexthop} ${user}`) or the LMTP path (`lmtp:inet:127.0.0.1:PORT`),
sends with swaks through Postfix, and waits for the decorated copies in listd's outbox.
Postfix is stopped and its directories removed at the end.

pipe(8) refuses to run commands as root, so these tests run listd as the unprivileged system
user `listd` (created here when missing, removed again if we created it): the temp dir and
data dir are chowned to it, listd drops to it after binding, and Postfix runs `listctl` as it.
Needs root (Postfix's master must start as root); skipped otherwise.
"""
import os
import pwd
import shutil
import subprocess
import time
import unittest

from listd_harness import BIN, Listd, Postfix, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
CONTRIB = os.path.join(HERE, "..", "..", "contrib", "postfix")
LIST = "mi_lista@lists.mired.org"


def contrib(name):
    with open(os.path.join(CONTRIB, name)) as f:
        return f.read()


@unittest.skipUnless(os.geteuid() == 0 and os.path.exists(Postfix.BIN),
                     "needs root and Postfix (scripts/install-deps --test)")
class PostfixTest(unittest.TestCase):
    created_user = False

    @classmethod
    def setUpClass(cls):
        try:
            pwd.getpwnam("listd")
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell",
                            "/usr/sbin/nologin", "listd"], check=True)
            cls.created_user = True

    @classmethod
    def tearDownClass(cls):
        if cls.created_user:
            subprocess.run(["userdel", "listd"], check=False)

    def setUp(self):
        self.l = Listd(user="listd")
        self.addCleanup(self.l.cleanup)  # also when setUp fails half-way
        self.l.demo()
        # listctl is run by pipe(8) as listd: give it a copy it can reach, and the data.
        shutil.copy(os.path.join(BIN, "listctl"), os.path.join(self.l.root, "listctl"))
        pw = pwd.getpwnam("listd")
        for dirpath, dirnames, filenames in os.walk(self.l.root):
            for n in [dirpath] + [os.path.join(dirpath, f) for f in dirnames + filenames]:
                os.lchown(n, pw.pw_uid, pw.pw_gid)
        self.l.start()
        self.pf = Postfix()
        self.addCleanup(self.pf.stop)

    def send(self, to, subject):
        p = subprocess.run(["swaks", "--silent", "1", "--timeout", "10", "--server", "127.0.0.1:%d" % self.pf.port,
                            "--from", "ana@mired.org", "--to", to, "--helo", "ana.mired.org", "--data",
                            "Subject: %s\nMessage-ID: <%s@mired.org>\n\nHola desde Postfix.\n" %
                            (subject, subject.replace(" ", "-"))], capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def expect_outbox(self, n, subject):
        files = wait_for(lambda: len(self.l.outbox()) >= n and self.l.outbox(), timeout=30,
                         what="%d outbox files\n%s\n%s" % (n, self.pf.maillog(), self.l.log()))
        time.sleep(0.3)
        self.assertEqual(len(self.l.outbox()), n)
        rcpts = set()
        for path in files:
            with open(path, "rb") as f:
                m = f.read()
            self.assertIn(("Subject: [mi_lista] %s" % subject).encode(), m)
            self.assertIn(b"List-Id: <mi_lista.lists.mired.org>", m)
            self.assertIn(b"by mx.mired.org (Postfix)", m)
            rcpts.add(m.split(b"Delivered-To: ", 1)[1].split(b"\n", 1)[0])
        self.assertEqual(rcpts, {b"ana@mired.org", b"bob@mired.org"})

    def expect_bounce(self, code):
        wait_for(lambda: "status=bounced" in self.pf.maillog(), timeout=30, what="bounce\n" + self.pf.maillog())
        self.assertIn(code, self.pf.maillog().split("status=bounced", 1)[1].split("\n", 1)[0])

    def test_pipe_path(self):
        master = contrib("master.cf.listd").replace("/usr/local/bin/listctl", os.path.join(
            self.l.root, "listctl")).replace("/etc/listd/listd.conf", self.l.config)
        self.pf.start(contrib("main.cf.listd"), master, contrib("transport.pipe"))
        self.send(LIST, "por pipe")
        self.expect_outbox(2, "por pipe")
        sent = [ln for ln in self.pf.maillog().splitlines() if "relay=listd" in ln]
        self.assertTrue(sent and "status=sent" in sent[0], self.pf.maillog())
        # An unknown list: listctl exits 67 (EX_NOUSER), Postfix bounces instead of retrying.
        self.send("nosuch@lists.mired.org", "perdido")
        self.expect_bounce("5.1.1")

    def test_lmtp_path(self):
        transport = contrib("transport.lmtp").replace("127.0.0.1:8024", "127.0.0.1:%d" % self.l.lmtp_port)
        self.pf.start(contrib("main.cf.listd"), "", transport)
        self.send(LIST, "por lmtp")
        self.expect_outbox(2, "por lmtp")
        self.assertIn("relay=127.0.0.1[127.0.0.1]:%d" % self.l.lmtp_port, self.pf.maillog())
        self.send("nosuch@lists.mired.org", "perdido")
        self.expect_bounce("550 5.1.1")


if __name__ == "__main__":
    unittest.main()
