"""Resource faults (SECURITY S-21, PI-01, P5, O-15): a full disk, a locked database and a
poison message. listd must answer temporary failures, never crash, never corrupt, and
recover without a restart once the fault is gone.

- DiskFull: the data dir is a 24 MiB tmpfs (needs root; skipped otherwise). Two posts are
  spooled, then the disk is filled: SMTP answers 451/452 4.3.x after the dot, `listctl pipe`
  exits 75, three processing passes fail without setting the two posts aside (a full disk is
  not the message's fault), nothing half-written is left in spool/, PRAGMA integrity_check
  = ok. After the filler is removed, without a restart, SMTP and the pipe are accepted again
  and every post is archived and delivered once.
- DatabaseLocked: another process holds SQLite's write lock (BEGIN EXCLUSIVE; in WAL mode
  readers go on, and a lock that blocks readers cannot be taken while listd has the database
  open). Intake goes on (250 / exit 0: the spool needs no database write), a CLI write exits
  75 after the 10 s busy timeout, processing fails with SQLITE_BUSY without counting a try,
  listd stays up. After release, without a restart, everything is processed, nothing set aside.
- Poison: a post whose queued copy cannot be written (a directory sits at its queue/ path,
  so every try throws) fails on three tries - one of them cut short by kill -9 - and is then
  set aside in spool/bad/ with a .reason; the list owner gets a notice; other posts flow.
"""
import os
import signal
import smtplib
import sqlite3
import subprocess
import threading
import time
import unittest

from chaos_common import LIST, Listd, assert_intact, read, wait_for


def post(n, size=2000):
    body = ("x" * 79 + "\n") * (size // 80 + 1)
    return ("From: Ana <ana@mired.org>\nTo: %s\nSubject: res %s\nMessage-ID: <res-%s@mired.org>\n\n%s" %
            (LIST, n, n, body)).encode()


def smtp_post(listd, n, size=2000):
    """(code, text) of the reply to the dot, or of the first refusal."""
    with smtplib.SMTP("127.0.0.1", listd.smtp_port, timeout=30) as c:
        c.ehlo()
        code, text = c.mail("ana@mired.org")
        if code != 250:
            return code, text.decode()
        code, text = c.rcpt(LIST)
        if code != 250:
            return code, text.decode()
        try:
            code, text = c.data(post(n, size).replace(b"\n", b"\r\n"))
        except smtplib.SMTPDataError as e:
            code, text = e.smtp_code, e.smtp_error
        return code, text.decode()


def pipe(listd, n, size=2000):
    return listd.listctl("pipe", "lists.mired.org", "mi_lista", "--sender", "ana@mired.org", stdin=post(n, size))


def fill(path):
    """Write `path` until the file system is full (MiB, then page, then byte steps)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for step in (1 << 20, 4096, 1):
            buf = b"\0" * step
            while True:
                try:
                    os.write(fd, buf)
                except OSError:
                    break
    finally:
        os.close(fd)


@unittest.skipUnless(os.geteuid() == 0, "needs root to mount a tmpfs for the data dir")
class DiskFull(unittest.TestCase):
    def setUp(self):
        self.l = Listd("retry_initial = 1\nretry_max = 1\n")  # a delivery deferred while full retries at once
        self.addCleanup(self.l.cleanup)
        os.makedirs(self.l.data, 0o700)
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m,mode=0700", "tmpfs", self.l.data],
                           capture_output=True)
        if p.returncode != 0:
            self.skipTest("cannot mount a tmpfs here: " + p.stderr.decode(errors="replace").strip())
        self.addCleanup(subprocess.run, ["umount", "-l", self.l.data], capture_output=True)
        self.addCleanup(self.l.stop)
        self.l.demo()
        self.filler = os.path.join(self.l.data, "filler")

    def assert_clean_spool(self):
        self.assertEqual(self.l.files("spool", "tmp"), [], "half-written spool file left behind")
        self.assertEqual(self.l.files("spool", "bad"), [], "a post was set aside")
        assert_intact(self, self.l)

    def test_full_disk_gives_temporary_failures_and_recovers_without_restart(self):
        self.l.start()
        self.l.proc.send_signal(signal.SIGSTOP)  # two posts wait in the spool while the disk fills
        try:
            for n in ("a", "b"):
                self.assertEqual(pipe(self.l, n).returncode, 0)
            fill(self.filler)
        finally:
            self.l.proc.send_signal(signal.SIGCONT)

        def failed_passes():
            return self.l.log().count("ev=process-failed") + self.l.log().count("ev=spool-pass-failed")
        wait_for(lambda: failed_passes() >= 1, 90, what="a processing pass failing for want of space")
        for k in range(3):  # three more passes: an empty file in spool/new wakes the processor
            open(os.path.join(self.l.data, "spool", "new", "wake~%d" % k), "w").close()  # (not a spool id)
            wait_for(lambda: failed_passes() >= k + 2, 90, what="a processing pass failing for want of space")
            os.unlink(os.path.join(self.l.data, "spool", "new", "wake~%d" % k))
        self.assertEqual(len(self.l.files("spool", "new")), 2)
        self.l.stop()  # and a restart on the full disk works too (the intake journal's spare cannot be made)
        self.l.start()
        code, text = smtp_post(self.l, "c", 50000)
        self.assertIn(code, (451, 452), text)
        self.assertRegex(text, r"^4\.3\.[01] ")
        p = pipe(self.l, "d", 50000)
        self.assertEqual(p.returncode, 75, p.stderr)
        self.assertIn(b"4.3.0", p.stderr)
        self.assertIsNone(self.l.proc.poll(), "listd died")
        self.assert_clean_spool()
        self.assertEqual(self.l.sql("SELECT count(*) FROM archive"), [(0,)])
        # Space comes back: no restart; the next intake also wakes the processor.
        os.unlink(self.filler)
        code, text = smtp_post(self.l, "e")
        self.assertEqual(code, 250, text)
        self.assertEqual(pipe(self.l, "f").returncode, 0)
        self.l.wait_idle(180)
        self.assertEqual(sorted(m for (m,) in self.l.sql("SELECT message_id FROM archive")),
                         ["res-%s@mired.org" % n for n in "abef"])
        self.assertEqual(len(self.l.outbox()), 8)
        self.assert_clean_spool()
        self.assertEqual(self.l.sql("SELECT DISTINCT outcome FROM processed"), [("accepted",)])


class DatabaseLocked(unittest.TestCase):
    def setUp(self):
        self.l = Listd()
        self.addCleanup(self.l.cleanup)
        self.l.demo()
        self.l.start()

    def lock(self):
        con = sqlite3.connect(os.path.join(self.l.data, "listd.db"), timeout=20, isolation_level=None)
        self.addCleanup(con.close)
        con.execute("BEGIN EXCLUSIVE")
        con.execute("UPDATE lists SET name = name")  # a write: the lock is really taken
        return con

    def test_write_lock_temporary_failures_and_recovery(self):
        con = self.lock()
        # A CLI write waits out the busy timeout (10 s), then asks for a retry.
        results = {}
        cli = threading.Thread(target=lambda: results.update(
            members=self.l.listctl("members", LIST, "add", "carol@mired.org")))
        cli.start()
        code, text = smtp_post(self.l, "w1")
        self.assertEqual(code, 250, text)  # the spool needs no database write
        self.assertEqual(pipe(self.l, "w2").returncode, 0)
        cli.join(60)
        self.assertEqual(results["members"].returncode, 75, results["members"].stderr)
        self.assertIn(b"locked", results["members"].stderr)
        wait_for(lambda: "database is locked" in self.l.log(), 90, what="the processor meeting the lock")
        self.assertIsNone(self.l.proc.poll(), "listd died")
        self.assertEqual(self.l.sql("SELECT count(*) FROM archive"), [(0,)])
        con.execute("ROLLBACK")
        con.close()

        # Released: no restart; the next post wakes the processor, which takes all three.
        code, text = smtp_post(self.l, "ok")
        self.assertEqual(code, 250, text)
        self.l.wait_idle()
        self.assertEqual(sorted(m for (m,) in self.l.sql("SELECT message_id FROM archive")),
                         ["res-ok@mired.org", "res-w1@mired.org", "res-w2@mired.org"])
        self.assertEqual(self.l.files("spool", "bad"), [])
        self.assertEqual(self.l.sql("SELECT count(*) FROM spool_attempts"), [(0,)])
        assert_intact(self, self.l)
        self.assertEqual(self.l.listctl("members", LIST, "add", "carol@mired.org").returncode, 0)


class Poison(unittest.TestCase):
    def setUp(self):
        self.l = Listd()
        self.addCleanup(self.l.cleanup)
        self.l.demo()

    def test_poison_set_aside_after_three_tries_owner_told_others_flow(self):
        p = self.l.listctl("inject", LIST, "--sender", "ana@mired.org", stdin=post("poison"), check=True)
        spool_id = p.stdout.decode().strip()
        os.makedirs(os.path.join(self.l.data, "queue", spool_id + ".post.eml"))  # every try throws
        failures = lambda: self.l.log().count("ev=process-failed spool=" + spool_id)  # noqa: E731
        self.l.start()
        wait_for(lambda: failures() == 1, 90, what="try 1 failing")
        self.l.kill9()  # a crash loop: the attempt counter survives kill -9
        self.l.start()  # (the harness keeps the log lines of every run)
        wait_for(lambda: failures() == 2, 90, what="try 2 failing")
        self.l.listctl("inject", LIST, "--sender", "ana@mired.org", stdin=post("good1"), check=True)
        wait_for(lambda: failures() == 3, 90, what="try 3 failing")
        self.l.listctl("inject", LIST, "--sender", "ana@mired.org", stdin=post("good2"), check=True)
        wait_for(lambda: self.l.files("spool", "bad"), 90, what="the poison set aside")
        self.l.wait_idle()
        self.assertEqual(sorted(os.path.basename(f) for f in self.l.files("spool", "bad")),
                         [spool_id, spool_id + ".reason"])
        self.assertIn(b"failed 3 times", read(os.path.join(self.l.data, "spool", "bad", spool_id + ".reason")))
        self.assertEqual(self.l.sql("SELECT outcome FROM processed WHERE spool_id = ?", spool_id), [("set-aside",)])
        self.assertEqual(sorted(m for (m,) in self.l.sql("SELECT message_id FROM archive")),
                         ["res-good1@mired.org", "res-good2@mired.org"])
        notices = [f for f in self.l.outbox() if b"set aside" in read(f)]
        self.assertEqual(len(notices), 1, "the owner was not told")
        text = read(notices[0])
        self.assertIn(b"Delivered-To: ana@mired.org", text)
        self.assertIn(spool_id.encode(), text)
        self.assertIn(b"res poison", text)  # the subject, so the owner knows which post
        self.assertIsNone(self.l.proc.poll(), "listd died")
        assert_intact(self, self.l)


if __name__ == "__main__":
    unittest.main()
