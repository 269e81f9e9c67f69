"""A real Postfix in front of listd, configured from contrib/postfix/ (issue 3).

Each test starts its own Postfix instance (`postfix -c DIR start`: private config, queue and
data directories under a temp dir, smtpd on a free loopback port, no chroot), hands
lists.mired.org to listd through the pipe path (master.cf `listd` entry running
`listctl pipe ${nexthop} ${user}`) or the LMTP path (`lmtp:inet:127.0.0.1:PORT`), sends with
swaks through Postfix, and waits for the decorated copies in listd's outbox. Postfix is
stopped and its directories removed at the end.

pipe(8) refuses to run commands as root, so the pipe test runs listd as the unprivileged
system user `listd` (created here when missing, removed again if we created it): the temp
dir and data dir are chowned to it, listd drops to it after binding, and Postfix runs
`listctl` as it. Needs root (Postfix's master must start as root); skipped otherwise.
"""
import os
import pwd
import shutil
import subprocess
import tempfile
import time
import unittest

from listd_harness import BIN, Listd, free_port, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
CONTRIB = os.path.join(HERE, "..", "..", "contrib", "postfix")
POSTFIX = shutil.which("postfix") or "/usr/sbin/postfix"
LIST = "mi_lista@lists.mired.org"

MASTER = """\
{port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def contrib(name):
    with open(os.path.join(CONTRIB, name)) as f:
        return f.read()


@unittest.skipUnless(os.geteuid() == 0 and os.path.exists(POSTFIX), "needs root and Postfix (scripts/install-deps --test)")
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
        self.pf = tempfile.mkdtemp(prefix="listd-postfix-")
        self.pf_port = free_port()
        self.pf_started = False
        self.addCleanup(self.stop_postfix)

    def stop_postfix(self):
        if self.pf_started:
            with open(os.path.join(self.pf, "queue", "pid", "master.pid")) as f:
                master = int(f.read().strip())
            subprocess.run([POSTFIX, "-c", os.path.join(self.pf, "etc"), "stop"], capture_output=True, timeout=60)
            wait_for(lambda: not os.path.exists("/proc/%d" % master), timeout=20, what="postfix master to exit")
        shutil.rmtree(self.pf, ignore_errors=True)

    def start_postfix(self, transport, with_pipe):
        etc = os.path.join(self.pf, "etc")
        os.makedirs(etc)
        os.chmod(self.pf, 0o755)  # Postfix's daemons (user postfix) must reach their dirs
        os.makedirs(os.path.join(self.pf, "queue"))
        os.makedirs(os.path.join(self.pf, "data"))
        pf = pwd.getpwnam("postfix")
        os.chown(os.path.join(self.pf, "data"), pf.pw_uid, pf.pw_gid)
        main = contrib("main.cf.listd").replace("hash:/etc/postfix/transport", "texthash:" + os.path.join(etc, "transport"))
        main += "\n".join([
            "compatibility_level = 3.6",
            "queue_directory = " + os.path.join(self.pf, "queue"),
            "data_directory = " + os.path.join(self.pf, "data"),
            "maillog_file = " + os.path.join(self.pf, "maillog"), "maillog_file_prefixes = " + self.pf,
            "mail_owner = postfix", "setgid_group = postdrop",
            "inet_interfaces = 127.0.0.1", "inet_protocols = ipv4",
            "myhostname = mx.mired.org", "mydomain = mired.org", "mydestination =",
            "mynetworks = 127.0.0.0/8", "alias_maps =", "alias_database =", "local_recipient_maps =",
            "smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination",
            "smtp_dns_support_level = disabled", "lmtp_host_lookup = native", "smtp_host_lookup = native",
            "default_transport = error:no outbound mail in this test", "bounce_queue_lifetime = 0",
            "maximal_backoff_time = 2s", "minimal_backoff_time = 1s", "queue_run_delay = 1s",
            "syslog_name = postfix-listd-test", ""])
        with open(os.path.join(etc, "main.cf"), "w") as f:
            f.write(main)
        master = MASTER.format(port="127.0.0.1:%d" % self.pf_port)
        if with_pipe:
            master += contrib("master.cf.listd").replace("/usr/local/bin/listctl", os.path.join(
                self.l.root, "listctl")).replace("/etc/listd/listd.conf", self.l.config)
        with open(os.path.join(etc, "master.cf"), "w") as f:
            f.write(master)
        with open(os.path.join(etc, "transport"), "w") as f:
            f.write(transport)
        p = subprocess.run([POSTFIX, "-c", etc, "start"], capture_output=True, timeout=60)
        self.pf_started = os.path.exists(os.path.join(self.pf, "queue", "pid", "master.pid"))
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr + self.maillog().encode())
        wait_for(self.smtpd_up, timeout=20, what="postfix smtpd")

    def smtpd_up(self):
        import socket
        try:
            with socket.create_connection(("127.0.0.1", self.pf_port), timeout=2) as s:
                return s.recv(4).startswith(b"220")
        except OSError:
            return False

    def maillog(self):
        try:
            with open(os.path.join(self.pf, "maillog"), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def send(self, to, subject):
        p = subprocess.run(["swaks", "--silent", "1", "--timeout", "10", "--server", "127.0.0.1:%d" % self.pf_port,
                            "--from", "ana@mired.org", "--to", to, "--helo", "ana.mired.org", "--data",
                            "Subject: %s\nMessage-ID: <%s@mired.org>\n\nHola desde Postfix.\n" %
                            (subject, subject.replace(" ", "-"))], capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def expect_outbox(self, n, subject):
        files = wait_for(lambda: len(self.l.outbox()) >= n and self.l.outbox(), timeout=30,
                         what="%d outbox files\n%s\n%s" % (n, self.maillog(), self.l.log()))
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

    def test_pipe_path(self):
        self.start_postfix(contrib("transport.pipe"), with_pipe=True)
        self.send(LIST, "por pipe")
        self.expect_outbox(2, "por pipe")
        sent = [ln for ln in self.maillog().splitlines() if "relay=listd" in ln]
        self.assertTrue(sent and "status=sent" in sent[0], self.maillog())
        # An unknown list: listctl exits 67, Postfix bounces (5.1.1) instead of retrying.
        self.send("nosuch@lists.mired.org", "perdido")
        wait_for(lambda: "status=bounced" in self.maillog(), timeout=30, what="bounce\n" + self.maillog())
        self.assertIn("5.1.1", self.maillog().split("status=bounced", 1)[1].split("\n", 1)[0])

    def test_lmtp_path(self):
        self.start_postfix(contrib("transport.lmtp").replace("127.0.0.1:8024", "127.0.0.1:%d" % self.l.lmtp_port),
                           with_pipe=False)
        self.send(LIST, "por lmtp")
        self.expect_outbox(2, "por lmtp")
        self.assertIn("relay=127.0.0.1[127.0.0.1]:%d" % self.l.lmtp_port, self.maillog())
        self.send("nosuch@lists.mired.org", "perdido")
        wait_for(lambda: "status=bounced" in self.maillog(), timeout=30, what="bounce\n" + self.maillog())
        self.assertIn("550 5.1.1", self.maillog().split("status=bounced", 1)[1].split("\n", 1)[0])


if __name__ == "__main__":
    unittest.main()
