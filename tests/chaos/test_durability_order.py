"""Durability order (SECURITY P1, S-19, PI-01): strace shows that, for every message, its
bytes are on stable storage before the write that carries its `250` (SMTP, LMTP: one reply
per recipient) or before the `exit_group(0)` of `listctl pipe`. Two ways are accepted:
- a spool file: the fsync of its file and the fsync of spool/new/ after its rename both
  *complete* before the ack (listctl pipe; SMTP/LMTP with `[spool] journal = no` or a message
  too large for a journal record);
- the intake journal (listd/intake_journal.hpp, the SMTP/LMTP default): the pwritev that
  carries the entry (`id: ID`) into a segment of spool/journal, then an fdatasync/fsync of that
  segment that starts after the write ended and completes before the ack.

How: listd runs normally; `strace -f -p PID -ttt -yy` attaches to all its threads (so every
fd is printed with its path, `-yy` gives sockets as TCP:[..]); clients post over SMTP (four
concurrent connections, so the group commit of the directory fsync is exercised), LMTP (one
message to two list addresses: two spool entries, two replies) and `listctl pipe` (traced
from exec). The trace is parsed per pid, joining `<unfinished ...>` lines with their
`<... NAME resumed>` lines; a call's start is the line where it began, its end the line where
it returned (strace writes lines in the order it observes them). For spool id ID and its ack
A (the sendto/sendmsg/write/writev whose data holds `Queued as ID`, or exit_group(0)):
  F = fsync/fdatasync of an fd on spool/tmp/ID, returned 0, ended before A started;
  R = rename(spool/tmp/ID -> spool/new/ID), returned 0, started after F ended, ended before A;
  D = fsync/fdatasync of an fd on spool/new, returned 0, started after R ended, ended before A.
or, journal: J = pwritev/pwritev2 on an fd on spool/journal/seg-*, whose data holds
`id: ID`, returned > 0, ended before A; S = fdatasync/fsync of that segment, returned 0,
started after J ended, ended before A.
Every id a client was told about must have its ack in the trace and F, R, D (or J, S). The checker is
also run on hand-written transcripts with each step missing or out of order (OrderChecker),
so a wrong order is shown to fail.
"""
import os
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import threading
import time
import unittest

from chaos_common import BIN, LIST, Listd, wait_for

TRACED = "fsync,fdatasync,write,writev,pwritev,pwritev2,sendto,sendmsg,rename,renameat,renameat2,exit_group"
STRACE = ["strace", "-f", "-qq", "-ttt", "-yy", "-s", "256", "-e", "trace=" + TRACED]
LINE = re.compile(r"^(\d+)\s+(\d+\.\d+)\s+(.*)$")
RESUMED = re.compile(r"^<\.\.\. (\w+) resumed>(.*)$")
CALL = re.compile(r"^(\w+)\((.*)$")
RET = re.compile(r"\)\s+=\s+(-?\d+|\?)(?:\s+E[A-Z0-9]+.*)?$")
FD_PATH = re.compile(r"^(\d+)<([^>]*)>")
QUEUED = re.compile(r"Queued as ([0-9A-Za-z._-]+)")


class Call:
    def __init__(self, pid, name, args, start):
        self.pid, self.name, self.args, self.start = pid, name, args, start
        self.end = None  # line number where it returned; None: never returned in the trace
        self.ret = None

    def finish(self, tail, seq):
        self.args += tail
        m = RET.search(self.args)
        self.ret = None if not m or m.group(1) == "?" else int(m.group(1))
        self.end = seq

    def path(self):
        m = FD_PATH.match(self.args)
        return m.group(2) if m else ""

    def __repr__(self):
        return "%s[%d]@%s-%s=%s" % (self.name, self.pid, self.start, self.end, self.ret)


def parse_strace(text):
    """Calls in trace order. Raises ValueError on a resumed line without its start."""
    calls, pending = [], {}
    for seq, raw in enumerate(text.splitlines()):
        m = LINE.match(raw)
        if not m:
            continue
        pid, rest = int(m.group(1)), m.group(3)
        if rest.startswith("+++ exited with "):
            c = Call(pid, "+++exit", rest, seq)
            c.ret, c.end = int(rest.split()[3]), seq
            calls.append(c)
            continue
        if rest.startswith("+++") or rest.startswith("---"):
            continue  # killed by a signal / a signal delivered
        r = RESUMED.match(rest)
        if r:
            c = pending.pop(pid, None)
            if c is None or c.name != r.group(1):
                raise ValueError("line %d: %s resumed without its start in pid %d" % (seq + 1, r.group(1), pid))
            c.finish(r.group(2), seq)
            continue
        m = CALL.match(rest)
        if not m:
            continue
        c = Call(pid, m.group(1), m.group(2), seq)
        if rest.endswith("<unfinished ...>"):
            if pid in pending:
                raise ValueError("line %d: pid %d starts a call while one is unfinished" % (seq + 1, pid))
            c.args = c.args[:-len("<unfinished ...>")]
            pending[pid] = c
        elif c.name == "exit_group":
            c.ret, c.end = int(re.match(r"(-?\d+)", c.args).group(1)), seq
        else:
            c.finish("", seq)
        calls.append(c)
    return calls


def socket_acks(calls):
    """spool id -> the first successful socket write carrying `Queued as ID`."""
    acks = {}
    for c in calls:
        if c.name in ("write", "writev", "sendto", "sendmsg") and "TCP:" in c.path() and (c.ret or 0) > 0:
            for spool_id in QUEUED.findall(c.args):
                acks.setdefault(spool_id, c)
    return acks


def order_violations(calls, spool_id, ack):
    """Why the ack of spool_id is not preceded by F, R, D (module doc); [] when it is."""
    if ack is None:
        return ["%s: no acknowledgement in the trace" % spool_id]
    out = []

    def done_before_ack(c):
        return c.ret == 0 and c.end is not None and c.end < ack.start

    syncs = [c for c in calls if c.name in ("fsync", "fdatasync")]
    f = [c for c in syncs if c.path().endswith("/spool/tmp/" + spool_id) and done_before_ack(c)]
    if not f:
        return ["%s: no completed fsync of spool/tmp/%s before the ack (line %d)" % (spool_id, spool_id, ack.start + 1)]
    f_end = min(c.end for c in f)
    r = [c for c in calls if c.name.startswith("rename") and "/spool/tmp/%s\"" % spool_id in c.args and
         "/spool/new/%s\"" % spool_id in c.args and done_before_ack(c)]
    if not r:
        return out + ["%s: no completed rename into spool/new before the ack" % spool_id]
    if not any(c.start > f_end for c in r):
        out.append("%s: renamed before its fsync completed" % spool_id)
    r_end = min(c.end for c in r)
    d = [c for c in syncs if c.path().endswith("/spool/new") and c.start > r_end and done_before_ack(c)]
    if not d:
        out.append("%s: no fsync of spool/new that started after the rename and ended before the ack" % spool_id)
    return out


def journal_violations(calls, spool_id, ack):
    """Why the ack of spool_id is not preceded by J, S (module doc); [] when it is."""
    if ack is None:
        return ["%s: no acknowledgement in the trace" % spool_id]
    j = [c for c in calls if c.name in ("pwritev", "pwritev2") and "/spool/journal/seg-" in c.path() and
         ("id: %s\\n" % spool_id) in c.args and (c.ret or 0) > 0 and c.end is not None and c.end < ack.start]
    if not j:
        return ["%s: no completed journal write of the entry before the ack" % spool_id]
    j_end, seg = min(c.end for c in j), j[0].path()
    s = [c for c in calls if c.name in ("fsync", "fdatasync") and c.path() == seg and c.start > j_end and
         c.ret == 0 and c.end is not None and c.end < ack.start]
    if not s:
        return ["%s: no fdatasync of %s that started after the journal write and ended before the ack" %
                (spool_id, seg)]
    return []


def intake_violations(calls, spool_id, ack):
    """The journal rule when the entry went through the journal, else the spool-file rule."""
    journaled = any(c.name in ("pwritev", "pwritev2") and ("id: %s\\n" % spool_id) in c.args for c in calls)
    return (journal_violations if journaled else order_violations)(calls, spool_id, ack)


def wait_traced(pid, timeout=10):
    """Every thread of pid has a tracer."""
    def traced():
        tasks = os.listdir("/proc/%d/task" % pid)
        for t in tasks:
            with open("/proc/%d/task/%s/status" % (pid, t)) as f:
                if "TracerPid:\t0\n" in f.read():
                    return False
        return True
    wait_for(traced, timeout, what="strace attached to every thread")


def strace_works():
    if not shutil.which("strace"):
        return "strace not installed (scripts/install-deps --test)"
    p = subprocess.run(["strace", "-qq", "-o", "/dev/null", "true"], capture_output=True)
    return "" if p.returncode == 0 else "strace cannot trace here: " + p.stderr.decode(errors="replace")


@unittest.skipIf(strace_works(), strace_works())
class DurabilityOrder(unittest.TestCase):
    def setUp(self):
        self.start_listd()

    def start_listd(self, extra=""):
        self.l = Listd(extra)
        self.addCleanup(self.l.cleanup)
        self.l.demo()

    def trace_listd(self, clients):
        """Run clients() with listd under strace; returns (trace text, what clients returned)."""
        self.l.start()
        out = os.path.join(self.l.root, "listd.strace")
        st = subprocess.Popen(STRACE + ["-o", out, "-p", str(self.l.proc.pid)], stderr=subprocess.PIPE)
        try:
            wait_traced(self.l.proc.pid)
            result = clients()
        finally:
            st.send_signal(signal.SIGINT)  # detaches; listd goes on
            st.wait(20)
            st.stderr.close()
        with open(out) as f:
            return f.read(), result

    def assert_order(self, text, ids, acks):
        calls = parse_strace(text)
        self.assertTrue(ids, "no message acknowledged")
        problems = []
        for spool_id in ids:
            problems += intake_violations(calls, spool_id, acks.get(spool_id))
        self.assertEqual(problems, [], "\n".join(problems))

    def test_smtp_and_lmtp_250_after_the_journal_fdatasync(self):
        text, ids = self.trace_listd(self.smtp_and_lmtp_clients)
        self.assertEqual(len(ids), 14)
        calls = parse_strace(text)
        for spool_id in ids:
            self.assertTrue(any(c.name.startswith("pwritev") and "id: %s\\n" % spool_id in c.args for c in calls),
                            "%s did not go through the journal" % spool_id)
        self.assert_order(text, ids, socket_acks(calls))

    def test_smtp_and_lmtp_250_after_file_and_directory_fsync_without_journal(self):
        self.l.cleanup()
        self.start_listd("[spool]\njournal = no\n")
        text, ids = self.trace_listd(self.smtp_and_lmtp_clients)
        self.assertEqual(len(ids), 14)
        calls = parse_strace(text)
        self.assertFalse(any(c.name.startswith("pwritev") and "/spool/journal/" in c.path() for c in calls))
        self.assert_order(text, ids, socket_acks(calls))

    def smtp_and_lmtp_clients(self):
        ids, lock = [], threading.Lock()

        errors = []

        def smtp_client(n):
            try:
                with smtplib.SMTP("127.0.0.1", self.l.smtp_port, timeout=20) as c:
                    c.ehlo()
                    for i in range(3):
                        c.mail("ana@mired.org")
                        c.rcpt(LIST)
                        code, text = c.data(b"Subject: durable %d/%d\r\n\r\nbody\r\n" % (n, i))
                        with lock:
                            ids.extend(QUEUED.findall(text.decode()))
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)
        threads = [threading.Thread(target=smtp_client, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(errors, [])
        # LMTP: one message, two list recipients, one reply each after the dot.
        s = socket.create_connection(("127.0.0.1", self.l.lmtp_port), timeout=20)
        f = s.makefile("rb")
        f.readline()
        s.sendall(b"LHLO chaos.test\r\n")
        while not f.readline().startswith(b"250 "):
            pass
        s.sendall(b"MAIL FROM:<ana@mired.org>\r\nRCPT TO:<mi_lista@lists.mired.org>\r\n"
                  b"RCPT TO:<mi_lista-owner@lists.mired.org>\r\nDATA\r\n")
        for _ in range(4):
            self.assertTrue(f.readline().startswith((b"250", b"354")))
        s.sendall(b"Subject: lmtp durable\r\n\r\nbody\r\n.\r\n")
        for _ in range(2):
            line = f.readline().decode()
            self.assertTrue(line.startswith("250 "), line)
            ids.extend(QUEUED.findall(line))
        s.sendall(b"QUIT\r\n")
        f.readline()
        s.close()
        return ids

    def test_pipe_exits_0_after_file_and_directory_fsync(self):
        out = os.path.join(self.l.root, "pipe.strace")
        env = dict(os.environ, LISTD_CONFIG=self.l.config)
        # Under ASan, LeakSanitizer ptraces its own threads at exit, which fails under strace.
        env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
        p = subprocess.run(STRACE + ["-o", out, os.path.join(BIN, "listctl"), "--config", self.l.config, "pipe",
                                     "lists.mired.org", "mi_lista", "--sender", "ana@mired.org"],
                           input=b"Subject: piped\n\nbody\n", capture_output=True, env=env, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        spool_id = p.stdout.decode().strip()
        with open(out) as f:
            calls = parse_strace(f.read())
        exits = [c for c in calls if c.name == "exit_group" and c.ret == 0]
        self.assertEqual(len(exits), 1)
        self.assertEqual(order_violations(calls, spool_id, exits[0]), [])


# A real trace (shortened): one SMTP message, the directory fsync interleaved with another
# thread's SQLite fdatasync. Variants below break one rule each.
GOOD = """\
2826  1795846588.403352 write(22</d/spool/tmp/ID1>, "LISTD-SPOOL 1\\n", 170) = 170
2837  1795846588.403898 write(22</d/spool/tmp/ID1>, "\\nLISTD-END\\n", 11) = 11
2837  1795846588.405628 fsync(22</d/spool/tmp/ID1>) = 0
2837  1795846588.409698 rename("/d/spool/tmp/ID1", "/d/spool/new/ID1") = 0
2837  1795846588.409857 fsync(22</d/spool/new> <unfinished ...>
2829  1795846588.410668 fdatasync(14</d/listd.db-wal> <unfinished ...>
2837  1795846588.411022 <... fsync resumed>) = 0
2829  1795846588.411047 <... fdatasync resumed>) = 0
2826  1795846588.414332 sendto(20<TCP:[127.0.0.1:24024->127.0.0.1:34232]>, "250 2.0.0 Queued as ID1\\r\\n", 25, \
MSG_NOSIGNAL, NULL, 0) = 25
"""


# The journal path (shortened from a real trace): staged tmp file, the group's pwritev into a
# segment, its fdatasync, the rename into spool/new, the 250.
JOURNAL = """\
2837  1795846588.403352 write(23</d/spool/tmp/ID1>, "LISTD-SPOOL 1\\nid: ID1\\nreceived: 1"..., 170) = 170
2837  1795846588.405628 pwritev(9</d/spool/journal/seg-00000001>, [{iov_base="LJR1\\252\\0\\0\\0"..., \
iov_len=24}, {iov_base="LISTD-SPOOL 1\\nid: ID1\\nreceived: 1"..., iov_len=170}], 2, 4096) = 194
2837  1795846588.405700 fdatasync(9</d/spool/journal/seg-00000001> <unfinished ...>
2829  1795846588.405800 fdatasync(14</d/listd.db-wal> <unfinished ...>
2837  1795846588.407022 <... fdatasync resumed>) = 0
2829  1795846588.407047 <... fdatasync resumed>) = 0
2837  1795846588.407698 rename("/d/spool/tmp/ID1", "/d/spool/new/ID1") = 0
2826  1795846588.408332 sendto(20<TCP:[127.0.0.1:24024->127.0.0.1:34232]>, "250 2.0.0 Queued as ID1\\r\\n", 25, \
MSG_NOSIGNAL, NULL, 0) = 25
"""


class JournalOrderChecker(unittest.TestCase):
    """The journal rule passes the real order and fails each broken one."""

    def violations(self, text):
        calls = parse_strace(text.replace("\\\n", ""))
        return intake_violations(calls, "ID1", socket_acks(calls).get("ID1"))

    def test_real_order_passes(self):
        self.assertEqual(self.violations(JOURNAL), [])

    def test_250_before_the_fdatasync_returned_fails(self):
        lines = JOURNAL.replace("\\\n", "").splitlines()
        ack = lines.pop()
        lines.insert(4, ack)
        self.assertIn("no fdatasync of /d/spool/journal/seg-00000001", self.violations("\n".join(lines))[0])

    def test_fdatasync_before_the_write_or_of_another_file_fails(self):
        lines = JOURNAL.replace("\\\n", "").splitlines()
        write = lines.pop(1)
        lines.insert(4, write)  # the write ends after the sync started
        self.assertIn("no fdatasync", self.violations("\n".join(lines))[0])
        other = JOURNAL.replace("fdatasync(9</d/spool/journal/seg-00000001>", "fdatasync(9</d/spool/journal/seg-2>")
        self.assertIn("no fdatasync", self.violations(other)[0])

    def test_failed_journal_write_fails(self):
        self.assertIn("no completed journal write", self.violations(JOURNAL.replace(") = 194", ") = -1 EIO (I/O error)"))[0])


class OrderChecker(unittest.TestCase):
    """The checker itself: it passes the real order and fails each broken one."""

    def violations(self, text):
        calls = parse_strace(text)
        return order_violations(calls, "ID1", socket_acks(calls).get("ID1"))

    def test_real_order_passes(self):
        self.assertEqual(self.violations(GOOD), [])

    def test_250_before_the_directory_fsync_returned_fails(self):
        lines = GOOD.splitlines()
        ack = lines.pop()
        lines.insert(6, ack)  # the reply goes out while fsync(spool/new) is still unfinished
        self.assertIn("no fsync of spool/new", self.violations("\n".join(lines))[0])

    def test_directory_fsync_before_the_rename_fails(self):
        lines = GOOD.splitlines()
        rename = lines.pop(3)
        lines.insert(7, rename)
        v = self.violations("\n".join(lines))
        self.assertTrue(any("no fsync of spool/new" in x for x in v), v)

    def test_rename_before_the_file_fsync_fails(self):
        lines = GOOD.splitlines()
        fsync = lines.pop(2)
        lines.insert(3, fsync)
        self.assertEqual(self.violations("\n".join(lines)), ["ID1: renamed before its fsync completed"])

    def test_missing_or_failed_file_fsync_fails(self):
        self.assertIn("no completed fsync of spool/tmp/ID1", self.violations(GOOD.replace(
            "fsync(22</d/spool/tmp/ID1>) = 0", "fsync(22</d/spool/tmp/ID1>) = -1 EIO (Input/output error)"))[0])
        self.assertIn("no completed fsync", self.violations(GOOD.replace("fsync(22</d/spool/tmp/ID1>)", "close(22)"))[0])

    def test_failed_send_is_no_ack_and_resumed_lines_pair_by_pid(self):
        self.assertEqual(self.violations(GOOD.replace(") = 25", ") = -1 EPIPE (Broken pipe)")),
                         ["ID1: no acknowledgement in the trace"])
        # the directory fsync resumed by another pid is a broken trace, not a pass
        with self.assertRaises(ValueError):
            parse_strace(GOOD.replace("2837  1795846588.411022 <... fsync", "2829  1795846588.411022 <... fsync"))


if __name__ == "__main__":
    unittest.main()
