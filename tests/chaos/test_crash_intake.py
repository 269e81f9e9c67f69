"""Crash chaos during intake (SECURITY P1, S-20, PI-02): kill -9 at random moments while
clients post over SMTP, LMTP and `listctl pipe` at the same time.

Each round: 2 SMTP, 1 LMTP and 2 pipe clients post without pause (unique Message-IDs, ~16 KiB
bodies ending in a marker line); after a random 0.05-0.8 s listd is killed -9 (mid-DATA,
mid-fsync, mid-processing or mid-delivery, wherever it is). The pipe clients also kill -9
their own `listctl pipe` processes at random moments. Then listd restarts and drains, and:
- acknowledged (250 after the dot / pipe exit 0) => its Message-ID is in the archive index
  exactly once, its Maildir file is whole (ends with the marker), and each of the 2 members
  has exactly one outbox copy;
- not acknowledged => absent, or present whole exactly once (the commit can land before the
  kill hid the 250); never anything else, never a set-aside (spool/bad/) entry;
- PRAGMA integrity_check = ok.
At the end, the spool/tmp files of killed writers, made 2 days old, are gone after a restart.
Counting: rows of `archive` grouped by message_id; outbox files by (Delivered-To, Message-ID).
CI: 10 rounds; `run --long`: 50.
"""
import email.parser
import os
import signal
import smtplib
import subprocess
import threading
import time
import unittest

from chaos_common import BIN, LIST, Listd, assert_intact, read, rng, scale, wait_for

BODY_LINES = 200  # ~16 KiB: DATA takes several reads, so kills land inside it


def message(mid):
    body = "".join("line %03d of %s: lorem ipsum dolor sit amet consectetur\n" % (i, mid) for i in range(BODY_LINES))
    return ("From: Ana <ana@mired.org>\nTo: %s\nSubject: chaos %s\nMessage-ID: <%s>\n\n%sEND-OF-%s\n" %
            (LIST, mid, mid, body, mid)).encode()


class Ledger:
    """What each client was told, per Message-ID: 'acked' or 'unacked'."""

    def __init__(self):
        self.lock = threading.Lock()
        self.state = {}

    def set(self, mid, state):
        with self.lock:
            self.state[mid] = state


class SmtpClient(threading.Thread):
    def __init__(self, name, port, lmtp, ledger, stop, rand):
        super().__init__(daemon=True)
        self.name_, self.port, self.lmtp, self.ledger, self.stop, self.rand = name, port, lmtp, ledger, stop, rand
        self.n = 0
        self.error = None

    def run(self):
        try:
            while not self.stop.is_set():
                try:
                    cls = smtplib.LMTP if self.lmtp else smtplib.SMTP
                    with cls("127.0.0.1", self.port, timeout=10) as c:
                        while not self.stop.is_set():
                            self.n += 1
                            mid = "%s-%d@chaos.test" % (self.name_, self.n)
                            self.ledger.set(mid, "unacked")
                            c.sendmail("ana@mired.org", [LIST], message(mid).replace(b"\n", b"\r\n"))  # returns after the 250
                            self.ledger.set(mid, "acked")
                except (OSError, smtplib.SMTPException):
                    time.sleep(0.02)  # listd is down or was killed mid-session
        except BaseException as e:  # noqa: BLE001 - reported by the test
            self.error = e


class PipeClient(threading.Thread):
    """`listctl pipe` in a loop; half of the runs are killed -9 after a random 0-40 ms."""

    def __init__(self, name, listd, ledger, stop, rand):
        super().__init__(daemon=True)
        self.name_, self.l, self.ledger, self.stop, self.rand = name, listd, ledger, stop, rand
        self.n = 0
        self.killed = 0
        self.tempfail = 0
        self.error = None

    def run(self):
        try:
            while not self.stop.is_set():
                self.n += 1
                mid = "%s-%d@chaos.test" % (self.name_, self.n)
                self.ledger.set(mid, "unacked")
                p = subprocess.Popen([os.path.join(BIN, "listctl"), "--config", self.l.config, "pipe", "lists.mired.org",
                                      "mi_lista", "--sender", "ana@mired.org"], stdin=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                timer = None
                if self.rand.random() < 0.5:
                    timer = threading.Timer(self.rand.uniform(0, 0.04), lambda p=p: p.send_signal(signal.SIGKILL))
                    timer.start()
                try:
                    p.stdin.write(message(mid))
                    p.stdin.close()
                except BrokenPipeError:
                    pass
                rc = p.wait(30)
                if timer:
                    timer.cancel()
                if rc == 0:
                    self.ledger.set(mid, "acked")
                elif rc == -signal.SIGKILL:
                    self.killed += 1
                elif rc == 75:  # temporary failure: allowed, counted
                    self.tempfail += 1
                else:
                    raise AssertionError("listctl pipe exited %d" % rc)
        except BaseException as e:  # noqa: BLE001
            self.error = e


class IntakeCrash(unittest.TestCase):
    ROUNDS = scale(10, 50)

    def setUp(self):
        self.l = Listd()
        self.addCleanup(self.l.cleanup)
        self.l.demo()
        self.rand = rng(self)
        self.ledger = Ledger()
        self.outbox_seen = {}  # file name -> (Delivered-To, Message-ID)
        self.archive_seen = set()

    def check(self, round_no):
        ctx = "round %d" % round_no
        assert_intact(self, self.l)
        counts = dict(self.l.sql("SELECT message_id, count(*) FROM archive GROUP BY message_id"))
        with self.ledger.lock:
            state = dict(self.ledger.state)
        for mid, n in counts.items():
            self.assertIn(mid, state, "%s: archive holds a message nobody sent: %s" % (ctx, mid))
            self.assertEqual(n, 1, "%s: %s archived %d times" % (ctx, mid, n))
        for mid, s in state.items():
            if s == "acked":
                self.assertIn(mid, counts, "%s: acknowledged message %s lost" % (ctx, mid))
        self.assertEqual(self.l.files("spool", "bad"), [], ctx + ": entries set aside")
        self.assertEqual(self.l.sql("SELECT DISTINCT outcome FROM processed"), [("accepted",)])
        # every archived file is whole; one file per index row
        files = self.l.archive()
        self.assertEqual(len(files), sum(counts.values()), ctx)
        for path in files:
            if path in self.archive_seen:
                continue
            data = read(path)
            mid = email.parser.BytesHeaderParser().parsebytes(data)["Message-ID"].strip("<>")
            self.assertTrue(data.rstrip().endswith(("END-OF-" + mid).encode()), "%s: truncated %s" % (ctx, path))
            self.archive_seen.add(path)
        # exactly one outbox copy per member and archived message (names are derived from the
        # job and recipient, so a re-delivery after a crash replaces the file)
        for path in self.l.outbox():
            name = os.path.basename(path)
            if name not in self.outbox_seen:
                h = email.parser.BytesHeaderParser().parsebytes(read(path))
                self.outbox_seen[name] = (h["Delivered-To"], h["Message-ID"].strip("<>"))
        per_msg = {}
        for rcpt, mid in self.outbox_seen.values():
            per_msg.setdefault(mid, []).append(rcpt)
        for mid in counts:
            self.assertEqual(sorted(per_msg.get(mid, [])), ["ana@mired.org", "bob@mired.org"], "%s: %s" % (ctx, mid))
        self.assertEqual(set(per_msg), set(counts), ctx + ": outbox copy of a message not in the archive")

    def test_kill9_during_smtp_lmtp_and_pipe_intake(self):
        self.l.start()
        totals = {"acked": 0, "unacked": 0, "pipe_killed": 0}
        for r in range(self.ROUNDS):
            stop = threading.Event()
            clients = [SmtpClient("smtp%d.r%d" % (i, r), self.l.smtp_port, False, self.ledger, stop,
                                  self.rand) for i in range(2)]
            clients.append(SmtpClient("lmtp.r%d" % r, self.l.lmtp_port, True, self.ledger, stop, self.rand))
            clients += [PipeClient("pipe%d.r%d" % (i, r), self.l, self.ledger, stop, self.rand) for i in range(2)]
            for c in clients:
                c.start()
            time.sleep(self.rand.uniform(0.05, 0.8))
            self.l.kill9()
            time.sleep(self.rand.uniform(0, 0.1))  # pipe clients go on spooling while listd is down
            stop.set()
            for c in clients:
                c.join(60)
                self.assertFalse(c.is_alive(), "client hung")
                self.assertIsNone(c.error, "%s: %r" % (c.name_, c.error))
            totals["pipe_killed"] += sum(getattr(c, "killed", 0) for c in clients)
            self.l.start()
            self.l.wait_idle()
            self.check(r)
        # Writers killed before their commit leave files in spool/tmp; listd removes them once
        # they are 36 hours old (at start and on each maintenance tick).
        stale = self.l.files("spool", "tmp")
        old = time.time() - 2 * 86400
        for path in stale:
            os.utime(path, (old, old))
        self.l.stop()
        self.l.start()
        wait_for(lambda: self.l.files("spool", "tmp") == [], 90, what="stale spool/tmp files removed")
        by_via = {}
        with self.ledger.lock:
            for mid, s in self.ledger.state.items():
                totals[s] += 1
                via = mid.split(".")[0].rstrip("0123456789")
                by_via.setdefault(via, {"acked": 0, "unacked": 0})[s] += 1
        print("by intake path:", by_via)
        archived = self.l.sql("SELECT count(*) FROM archive")[0][0]
        print("intake chaos: %d rounds, %d acked, %d unacked (%d archived anyway), %d pipe runs killed, "
              "%d stale spool/tmp files" % (self.ROUNDS, totals["acked"], totals["unacked"], archived - totals["acked"],
                                            totals["pipe_killed"], len(stale)))
        for via, t in by_via.items():
            self.assertGreater(t["acked"], 0, via + ": nothing acknowledged, nothing was tested")
        self.assertGreater(totals["unacked"], 0, "no kill landed inside an intake")


if __name__ == "__main__":
    unittest.main()
