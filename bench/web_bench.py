#!/usr/bin/env python3
"""bench/web_bench.py - wrk against listd's web pages on loopback, with big data.

Builds a data dir with one list of N members (default 100,000, `listctl members add --file`)
and N archived posts (index rows written straight into the `archive` table, spread evenly
over MONTHS months, one real Maildir message for the message page), starts listd, logs in
as a site admin for the members page, then runs `wrk -t2 -c64 -dDURATION --latency` on:
the public list page, the archive month page, one archived message, the members page
(logged in), and an archive search (FTS5: every post also gets an archive_fts row with a
subject, a sender and a short text). Prints requests/s, p99 and listd's CPU time per request
(user + system, from /proc: the work itself, whatever else loads the machine) and the load
average at the end of the run per page, listd's peak RSS (VmHWM), and the median of 50
sequential requests per page. --keep leaves the data dir (and its listd.conf) in place for profiling.
Usage: bench/web_bench.py [--n 100000] [--months 120] [--duration 30s] [--bin build/bin] [--keep]
"""
import argparse
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import http.cookiejar

HERE = os.path.dirname(os.path.abspath(__file__))
LIST = "big@lists.mired.org"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    """user + system CPU seconds of PID so far (/proc/PID/stat fields 14 and 15)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(url, duration, cookie=None, pid=None):
    """(requests/s, p99 ms, non-2xx count, listd CPU ms per request)."""
    cmd = ["wrk", "-t2", "-c64", "-d" + duration, "--latency"]
    if cookie:
        cmd += ["-H", "Cookie: " + cookie]
    cpu0 = cpu_seconds(pid) if pid else 0.0
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    cpu = cpu_seconds(pid) - cpu0 if pid else 0.0
    total = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)", out, re.M)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, float(p99.group(1)) * scale, int(non2xx.group(1)) if non2xx else 0, cpu * 1000 / max(1, total)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100000)
    ap.add_argument("--months", type=int, default=120)
    ap.add_argument("--duration", default="30s")
    ap.add_argument("--bin", default=os.path.join(HERE, "..", "build", "bin"))
    ap.add_argument("--keep", action="store_true", help="keep the data dir (printed) after the run")
    a = ap.parse_args()
    listctl = os.path.join(a.bin, "listctl")
    root = tempfile.mkdtemp(prefix="listd-webbench-")
    proc = None
    try:
        port = free_port()
        conf = os.path.join(root, "listd.conf")
        user = "root" if os.geteuid() == 0 else os.environ.get("USER", "listd")
        with open(conf, "w") as f:
            f.write("data_dir = %s/data\nuser = %s\nlog_level = warn\n[relay]\nmode = maildir\n[http]\n"
                    "listen = 127.0.0.1:%d\n" % (root, user, port))

        def ctl(*args, stdin=None):
            subprocess.run([listctl, "--config", conf] + list(args), input=stdin, check=True,
                           capture_output=True)

        ctl("newlist", LIST, "--owner", "owner@mired.org", "--quiet")
        ctl("admin", "add", "root@mired.org", "--password", "bench-secret")
        # One real post (archived through the pipeline) for the message page, from a non-member
        # with the list open to them: accepted, archived, delivered to the owner only.
        ctl("settings", LIST, "member_only", "no")
        proc = subprocess.Popen([os.path.join(a.bin, "listd"), "--config", conf], stderr=subprocess.DEVNULL)
        ctl("inject", LIST, "--sender", "user1@example1.org", stdin=(
            "From: User One <user1@example1.org>\nTo: %s\nSubject: A real message\nMessage-ID: <real@x>\n"
            "Date: Sat, 28 Nov 2026 10:00:00 +0000\n\n%s\n" % (LIST, "Some text. " * 200)).encode())
        db = os.path.join(root, "data", "listd.db")
        for _ in range(200):
            con = sqlite3.connect(db, timeout=30)
            done = con.execute("SELECT count(*) FROM archive").fetchone()[0]
            con.close()
            if done:
                break
            time.sleep(0.1)
        # Members after the real post, so its delivery job (to nobody) does not load the machine.
        members = os.path.join(root, "members.txt")
        with open(members, "w") as f:
            for i in range(a.n):
                f.write("user%d@example%d.org\n" % (i, i % 97))
        t0 = time.monotonic()
        ctl("members", LIST, "add", "--file", members)
        print("setup: %d members in %.1f s" % (a.n, time.monotonic() - t0))
        # The other N-1 posts: index rows, evenly over the last MONTHS months, in threads of 5.
        con = sqlite3.connect(db, timeout=30)
        lid, path = con.execute("SELECT list_id, path FROM archive").fetchone()
        end = 1796119200
        span = a.months * 30 * 86400
        rows = []
        for i in range(2, a.n + 1):
            date = end - span + (span * i) // a.n
            parent = "" if i % 5 == 0 else "m%d@bench" % (i - i % 5)
            rows.append((lid, i, "s%d" % i, "m%d@bench" % i, date, date, "user%d@example%d.org" % (i, i % 97),
                         "User %d" % i, "[big] Subject number %d about topic %d" % (i, i % 1000), parent, 2000, path))
        con.executemany("INSERT INTO archive(list_id, uid, spool_id, message_id, date, received, from_addr, "
                        "from_name, subject, in_reply_to, size, path) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        # The search index rows (what archive_index_access writes): subject, sender, recipients, text.
        words = ["gramática", "subjuntivo", "vocabulario", "ejercicio", "pronunciación", "lectura", "examen",
                 "verbos", "conjugación", "diálogo", "escritura", "tarea"]
        t0 = time.monotonic()
        ids = dict(con.execute("SELECT uid, id FROM archive WHERE list_id = ? AND uid > 1", (lid,)))
        con.executemany(
            "INSERT INTO archive_fts(rowid, subject, sender, recipients, body) VALUES (?,?,?,?,?)",
            ((ids[r[1]], r[8], "%s <%s>" % (r[7], r[6]), LIST,
              "Hola a todos. Hoy hablamos de %s y de %s (mensaje %d).\nSaludos.\n" %
              (words[r[1] % 12], words[(r[1] * 7) % 12], r[1])) for r in rows))
        print("setup: %d search index rows in %.1f s" % (a.n - 1, time.monotonic() - t0))
        con.execute("UPDATE lists SET next_uid = ? WHERE id = ?", (a.n + 1, lid))
        con.commit()
        con.close()
        base = "http://127.0.0.1:%d" % port
        # Log in as the site admin (the members page needs a session).
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        page = opener.open(base + "/login").read().decode()
        csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"', page).group(1)
        opener.open(base + "/login", urllib.parse.urlencode(
            {"csrf": csrf, "email": "root@mired.org", "password": "bench-secret", "next": "/admin"}).encode())
        session = "listd_session=" + next(c.value for c in jar if c.name == "listd_session")
        month = time.strftime("%Y-%m", time.gmtime(end - 86400 * 45))
        pages = [
            ("public list page", base + "/lists/" + LIST, None),
            ("archive month page (%s)" % month, base + "/lists/%s/archive/%s" % (LIST, month), None),
            ("one archived message", base + "/lists/%s/archive/msg/1" % LIST, None),
            ("members page (admin, page 1 of %d)" % ((a.n + 49) // 50), base + "/admin/lists/%s/members" % LIST,
             session),
            ("archive search (a word in 1/12 of posts)",
             base + "/lists/%s/archive/search?q=%s" % (LIST, urllib.parse.quote("subjuntivo")), None),
            ("archive search (2 words, 7 hits)",
             base + "/lists/%s/archive/search?q=%s" % (LIST, urllib.parse.quote("\"mensaje 7777\" examen")), None),
        ]
        with urllib.request.urlopen(pages[1][1]) as r:
            body = r.read().decode()
        print("month page: %d messages, %d bytes" % (body.count("/archive/msg/"), len(body)))
        print("%-40s %12s %10s %8s %14s %10s" % ("page", "requests/s", "p99 (ms)", "non-2xx", "CPU ms/request",
                                                 "load avg"))
        for name, url, cookie in pages:
            rps, p99, bad, cpu = wrk(url, a.duration, cookie, proc.pid)
            # The 1-minute load average as the run ends (wrk and listd included): how busy the
            # machine was, since other work on it moves requests/s and p99.
            with open("/proc/loadavg") as f:
                load = f.read().split()[0]
            print("%-40s %12.0f %10.2f %8d %14.3f %10s" % (name, rps, p99, bad, cpu, load))
            sys.stdout.flush()
        with open("/proc/%d/status" % proc.pid) as f:
            status = f.read()
        hwm = re.search(r"VmHWM:\s+(\d+) kB", status).group(1)
        rss = re.search(r"VmRSS:\s+(\d+) kB", status).group(1)
        print("listd peak RSS (VmHWM): %.1f MB; now %.1f MB" % (int(hwm) / 1024, int(rss) / 1024))
        # One request at a time (no queueing): the work itself, per page.
        print("%-40s %12s" % ("page, unloaded (50 sequential requests)", "median (ms)"))
        for name, url, cookie in pages:
            times = []
            for _ in range(50):
                req = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
                t0 = time.perf_counter()
                with urllib.request.urlopen(req) as r:
                    r.read()
                times.append((time.perf_counter() - t0) * 1000)
            times.sort()
            print("%-40s %12.2f" % (name, times[len(times) // 2]))
    finally:
        if proc:
            proc.terminate()
            proc.wait(20)
        if a.keep:
            print("data kept in", root)
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
