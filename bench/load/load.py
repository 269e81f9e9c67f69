#!/usr/bin/env python3
"""bench/load/load.py - mixed load on one listd (issue 8): SMTP posting, IMAP, POP3 and the web
archive, all at once on loopback, against an archive of --posts posts (default 100,000).

Setup (not timed): a data dir from tests/integration/listd_harness.py, one list, --posts
synthetic posts imported with `listctl import-mbox`, posters and readers as nomail members
(one password hash shared), [smtp] connection limits raised to the client count.
Then for --duration seconds, concurrently:
  - --smtp clients (asyncio), each posting one message per session (EHLO, MAIL, RCPT, DATA, QUIT);
  - --imap clients: LOGIN, EXAMINE the list, then FETCH 50 ENVELOPEs / FETCH one BODY.PEEK[] /
    SEARCH TEXT / SEARCH FROM in turn;
  - --pop3 clients: USER, PASS, STAT, 3 x RETR, QUIT, over and over;
  - wrk (-t1 -c--wrk-connections) on the archive month page of November 2023, the archive's
    first month (at 100,000 posts it holds ~23,000 of them: a 3.6 MB page; the new posts go
    to the current month, so that page does not change during the run). A wrk error is an
    answer other than 2xx/3xx or a socket error (connect, read, write, or a request that took
    over wrk's 2 s timeout); the kinds are printed.
Reports per protocol operations/s, errors and p50/p99 latency; listd's RSS sampled every second
(max and last); and checks that every post answered 250 is in the archive (waiting up to
--drain seconds for the daemon to process its spool). Exit status 1 if any post was lost or
any operation failed. --smoke: a few seconds with a few clients and a small archive.
Usage: LISTD_BIN=build/bin bench/load/load.py [--duration 60] [--posts 100000] [--smoke]
"""
import argparse
import asyncio
import os
import random
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration"))
sys.path.insert(0, os.path.join(HERE, "..", "imap"))
from listd_harness import Listd  # noqa: E402
import bench_imap  # noqa: E402

LIST = "bench@lists.mired.org"
PASSWORD = "load-pw"


class Stats:
    def __init__(self):
        self.lat = {}
        self.errors = {}
        self.first_error = {}

    def ok(self, kind, seconds):
        self.lat.setdefault(kind, []).append(seconds)

    def err(self, kind, what):
        self.errors[kind] = self.errors.get(kind, 0) + 1
        self.first_error.setdefault(kind, str(what)[:200])


def pct(values, p):
    if not values:
        return 0.0
    v = sorted(values)
    return v[min(len(v) - 1, int(len(v) * p))]


async def read_reply(reader):
    """An SMTP reply (possibly multi-line): (code, text)."""
    lines = []
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("closed")
        lines.append(line)
        if len(line) < 4 or line[3:4] != b"-":
            return int(line[:3]), b"".join(lines)


async def smtp_client(n, port, stop, stats, acked, pause=0.0):
    seq = 0
    while not stop.is_set():
        if seq and pause:
            await asyncio.sleep(pause)
        seq += 1
        mid = "load-%d-%d@bench" % (n, seq)
        t0 = time.perf_counter()
        try:
            r, w = await asyncio.open_connection("127.0.0.1", port)
            try:
                code, _ = await read_reply(r)
                if code != 220:
                    raise RuntimeError("greeting %d" % code)
                for cmd, want in ((b"EHLO load.example\r\n", 250),
                                  (b"MAIL FROM:<poster%d@example.org>\r\n" % (n % 20), 250),
                                  (("RCPT TO:<%s>\r\n" % LIST).encode(), 250), (b"DATA\r\n", 354)):
                    w.write(cmd)
                    code, text = await read_reply(r)
                    if code != want:
                        raise RuntimeError("%s -> %r" % (cmd.strip(), text))
                body = ("From: Poster %d <poster%d@example.org>\r\nTo: %s\r\nSubject: carga %d %d\r\n"
                        "Message-ID: <%s>\r\n\r\n%s\r\n.\r\n" % (n, n % 20, LIST, n, seq, mid,
                                                              "linea de texto de la carga\r\n" * 40))
                t_data = time.perf_counter()
                w.write(body.encode())
                code, text = await read_reply(r)
                if code != 250:
                    raise RuntimeError("DATA -> %r" % text)
                acked.add(mid)
                stats.ok("smtp", time.perf_counter() - t_data)
                w.write(b"QUIT\r\n")
                await read_reply(r)
            finally:
                w.close()
        except Exception as e:  # noqa: BLE001 - counted and reported
            stats.err("smtp", e)
            await asyncio.sleep(0.2)
        del t0


async def imap_cmd(r, w, tag, text):
    w.write(b"%s %s\r\n" % (tag, text.encode()))
    end = tag + b" "
    while True:
        line = await r.readline()
        if not line:
            raise ConnectionError("closed")
        m = re.search(rb"\{(\d+)\}\r\n$", line)
        if m:
            await r.readexactly(int(m.group(1)))
            continue
        if line.startswith(end):
            if not line.startswith(end + b"OK"):
                raise RuntimeError(line.decode(errors="replace").strip())
            return


async def imap_client(n, port, stop, stats, total):
    rnd = random.Random(n)
    while not stop.is_set():
        try:
            r, w = await asyncio.open_connection("127.0.0.1", port, limit=1 << 24)
            try:
                await r.readline()
                t0 = time.perf_counter()
                await imap_cmd(r, w, b"a", "LOGIN reader%d@example.org %s" % (n, PASSWORD))
                await imap_cmd(r, w, b"b", 'EXAMINE "%s"' % LIST)
                stats.ok("imap login+examine", time.perf_counter() - t0)
                k = 0
                while not stop.is_set():
                    k += 1
                    i = rnd.randint(1, max(1, total - 50))
                    op, cmd = (("fetch 50 envelopes", "FETCH %d:%d (UID FLAGS RFC822.SIZE ENVELOPE)" % (i, i + 49)),
                               ("fetch body[]", "FETCH %d BODY.PEEK[]" % i),
                               ("search text", 'SEARCH TEXT "zanahoria"'),
                               ("search from", 'SEARCH FROM "user%d@"' % rnd.randint(0, 499)))[k % 4]
                    t0 = time.perf_counter()
                    await imap_cmd(r, w, b"c%d" % k, cmd)
                    stats.ok("imap " + op, time.perf_counter() - t0)
                await imap_cmd(r, w, b"z", "LOGOUT")
            finally:
                w.close()
        except Exception as e:  # noqa: BLE001
            stats.err("imap", e)
            await asyncio.sleep(0.2)


async def pop_line(r):
    line = await r.readline()
    if not line.startswith(b"+OK"):
        raise RuntimeError(line.decode(errors="replace").strip() or "closed")
    return line


async def pop_multi(r):
    await pop_line(r)
    while True:
        line = await r.readline()
        if not line:
            raise ConnectionError("closed")
        if line == b".\r\n":
            return


async def pop3_client(n, port, stop, stats):
    rnd = random.Random(1000 + n)
    while not stop.is_set():
        try:
            t0 = time.perf_counter()
            r, w = await asyncio.open_connection("127.0.0.1", port, limit=1 << 24)
            try:
                await pop_line(r)
                w.write(b"USER pop%d@example.org\r\n" % n)
                await pop_line(r)
                w.write(b"PASS %s\r\n" % PASSWORD.encode())
                await pop_line(r)
                w.write(b"STAT\r\n")
                count = int((await pop_line(r)).split()[1])
                stats.ok("pop3 login+stat", time.perf_counter() - t0)
                for _ in range(3):
                    t1 = time.perf_counter()
                    w.write(b"RETR %d\r\n" % rnd.randint(1, max(1, count)))
                    await pop_multi(r)
                    stats.ok("pop3 retr", time.perf_counter() - t1)
                w.write(b"QUIT\r\n")
                await pop_line(r)
                stats.ok("pop3 session", time.perf_counter() - t0)
            finally:
                w.close()
        except Exception as e:  # noqa: BLE001
            stats.err("pop3", e)
            await asyncio.sleep(0.2)


async def sample_rss(pid, stop, samples):
    while not stop.is_set():
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        samples.append(int(line.split()[1]))
        except OSError:
            pass
        await asyncio.sleep(1)


def run_wrk(url, seconds, connections):
    if connections == 0 or not shutil.which("wrk"):
        return None
    return subprocess.Popen(["wrk", "-t1", "-c%d" % connections, "-d%ds" % seconds, "--latency", url],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def parse_wrk(out):
    text = out.decode(errors="replace")
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", text)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    p99_ms = None
    if p99:
        p99_ms = float(p99.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    # wrk's errors: answers other than 2xx/3xx, and socket errors - connect, read, write, and
    # "timeout": at each 2 s tick, every connection whose request has waited over --timeout
    # (2 s by default) counts one (so one slow request can count more than once).
    detail = {"non-2xx/3xx": int(non2xx.group(1)) if non2xx else 0}
    if errs:
        detail.update(zip(("connect", "read", "write", "timeout"), (int(x) for x in errs.groups())))
    n_err = sum(detail.values())
    return (float(rps.group(1)) if rps else 0.0), p99_ms, n_err, text, detail


async def load(a, l, total):
    stop = asyncio.Event()
    stats = Stats()
    acked = set()
    rss = []
    month = time.strftime("%Y-%m", time.gmtime(1700000000))
    wrk = run_wrk("http://127.0.0.1:%d/lists/%s/archive/%s" % (l.ports["http"], LIST, month), a.duration,
                  a.wrk_connections)
    tasks = [asyncio.create_task(sample_rss(l.proc.pid, stop, rss))]
    tasks += [asyncio.create_task(smtp_client(i, l.ports["smtp"], stop, stats, acked, getattr(a, "smtp_pause", 0.0)))
              for i in range(a.smtp)]
    tasks += [asyncio.create_task(imap_client(i, l.ports["imap"], stop, stats, total)) for i in range(a.imap)]
    tasks += [asyncio.create_task(pop3_client(i, l.ports["pop3"], stop, stats)) for i in range(a.pop3)]
    t0 = time.monotonic()
    await asyncio.sleep(a.duration)
    stop.set()
    await asyncio.wait(tasks, timeout=60)
    elapsed = time.monotonic() - t0
    web = None
    if wrk:
        out, _ = wrk.communicate(timeout=120)
        web = parse_wrk(out)
    return stats, acked, rss, elapsed, web


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=60)
    ap.add_argument("--posts", type=int, default=100000)
    ap.add_argument("--smtp", type=int, default=200)
    ap.add_argument("--imap", type=int, default=100)
    ap.add_argument("--pop3", type=int, default=50)
    ap.add_argument("--wrk-connections", type=int, default=16, help="0: no web load")
    ap.add_argument("--drain", type=int, default=300, help="seconds to wait for every 250'd post to be archived")
    ap.add_argument("--smoke", action="store_true", help="5 s, 300 posts, 10 SMTP / 5 IMAP / 5 POP3 clients")
    a = ap.parse_args()
    if a.smoke:
        a.duration, a.posts, a.smtp, a.imap, a.pop3, a.wrk_connections, a.drain = 5, 300, 10, 5, 5, 2, 120
        a.smtp_pause = 0.2  # at most ~250 posts: the drain must fit a loaded CI machine
    l = Listd()
    failed = False
    try:
        l.listctl("newlist", LIST, "--owner", "owner@example.org", "--quiet", check=True)
        people = (["poster%d@example.org" % i for i in range(20)] + ["reader%d@example.org" % i for i in range(a.imap)]
                  + ["pop%d@example.org" % i for i in range(a.pop3)])
        path = os.path.join(l.root, "members.txt")
        with open(path, "w") as f:
            f.write("\n".join(people) + "\n")
        l.listctl("members", LIST, "add", "--file", path, check=True)
        l.listctl("passwd", "owner@example.org", "--password", PASSWORD, check=True)
        # One hash for everyone (argon2 per person would take minutes); nobody gets mail.
        l.sql("UPDATE people SET password_hash = (SELECT password_hash FROM people WHERE email = ?)",
              "owner@example.org")
        l.sql("UPDATE memberships SET nomail = 1")
        mbox = os.path.join(l.root, "archive.mbox")
        bench_imap.make_mbox(mbox, a.posts)
        t = time.perf_counter()
        l.listctl("import-mbox", LIST, mbox, check=True, timeout=3600)
        os.unlink(mbox)
        print("setup: %d posts imported in %.1f s" % (a.posts, time.perf_counter() - t), flush=True)
        with open(l.config) as f:
            conf = f.read()
        limit = max(100, 2 * a.smtp)
        with open(l.config, "w") as f:
            f.write(conf.replace("[smtp]\n", "[smtp]\nmax_connections = %d\nmax_connections_per_ip = %d\n"
                                 % (limit, limit), 1))
        l.start()
        load_start = os.getloadavg()[0]
        stats, acked, rss, elapsed, web = asyncio.run(load(a, l, a.posts))
        # Every post answered 250 must reach the archive once the daemon has processed its spool.
        deadline = time.monotonic() + a.drain
        ids = sorted(acked)
        while True:
            have = set()
            for i in range(0, len(ids), 500):
                chunk = ids[i:i + 500]
                rows = l.sql("SELECT message_id FROM archive WHERE message_id IN (%s)" % ",".join("?" * len(chunk)),
                             *chunk)
                have.update(r[0] for r in rows)
            lost = len(ids) - len(have)
            if lost == 0 or time.monotonic() > deadline:
                break
            time.sleep(1)
        with open("/proc/%d/status" % l.proc.pid) as f:
            hwm = [int(x.split()[1]) for x in f if x.startswith("VmHWM:")][0]
        load1 = os.getloadavg()[0]
        print("\nmixed load: %.0f s, archive of %d posts, %d SMTP / %d IMAP / %d POP3 clients, wrk -c%d; "
              "load average at the start %.1f, at the end %.1f"
              % (elapsed, a.posts, a.smtp, a.imap, a.pop3, a.wrk_connections, load_start, load1))
        print("%-26s %10s %8s %9s %9s" % ("operation", "ops/s", "errors", "p50 ms", "p99 ms"))
        for kind in sorted(stats.lat):
            v = stats.lat[kind]
            print("%-26s %10.1f %8s %9.1f %9.1f" % (kind, len(v) / elapsed, "", pct(v, 0.5) * 1000,
                                                     pct(v, 0.99) * 1000))
        for kind, n in sorted(stats.errors.items()):
            print("%-26s errors %d (first: %s)" % (kind, n, stats.first_error[kind]))
            failed = True
        if web:
            rps, p99, n_err, text, detail = web
            print("%-26s %10.1f %8d %9s %9s" % ("web month page (wrk)", rps, n_err, "",
                                                 "%.1f" % p99 if p99 is not None else "?"))
            if n_err:
                print("web errors: %s" % ", ".join("%s %d" % kv for kv in detail.items() if kv[1]))
                failed = True
        else:
            print("web month page: skipped (wrk not installed or --wrk-connections 0)")
        print("posts answered 250: %d; in the archive: %d; lost: %d" % (len(ids), len(ids) - lost, lost))
        print("listd RSS: max %.0f MiB, last %.0f MiB, VmHWM %.0f MiB (%d samples)"
              % (max(rss or [0]) / 1024, (rss or [0])[-1] / 1024, hwm / 1024, len(rss)))
        if lost or (a.smtp and not ids):
            failed = True
    finally:
        l.cleanup()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
