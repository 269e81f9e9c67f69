#!/usr/bin/env python3
"""bench_imap - archive access on a big list: import, SELECT + FETCH, SEARCH, BODY[] fetches.

Builds N synthetic posts (default 100,000) as an mboxrd file, imports them with
`listctl import-mbox` (timed), starts listd on loopback and measures over a raw IMAP socket:
  - LOGIN + SELECT + FETCH 1:* (UID FLAGS RFC822.SIZE ENVELOPE), first run after start and warm
  - SEARCH TEXT "<rare word>" and SEARCH FROM "<one sender>" (median of --runs)
  - 1,000 FETCH n BODY[] at random n
  - listd's peak RSS (VmHWM)
With --dovecot (root, dovecot-imapd installed) the same commands run against Dovecot's imap
binary (preauthenticated, as user nobody) on a copy of the same Maildir, in the same run.
Usage: LISTD_BIN=build/bin bench/imap/bench_imap.py [--posts N] [--runs R] [--dovecot]
"""
import argparse
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "integration"))
from listd_harness import Listd  # noqa: E402

LIST = "bench@lists.mired.org"
WORDS = ("lista correo servidor mensaje archivo buzón usuario dominio entrega cola reintento cabecera cuerpo "
         "adjunto firma respuesta hilo tema semana reunión informe proyecto versión prueba error registro").split()


def make_mbox(path, n, seed=1):
    rnd = random.Random(seed)
    t0 = 1700000000
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            sender = "user%d@example.org" % (i % 500)
            words = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(40, 200)))
            if i % 1000 == 7:
                words += " zanahoria"
            t = t0 + i * 60
            date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(t))
            f.write("From %s %s\n" % (sender, time.strftime("%a %b %e %H:%M:%S %Y", time.gmtime(t))))
            f.write("From: User %d <%s>\nTo: %s\nSubject: %s %s %d\nDate: %s\nMessage-ID: <b%d@example.org>\n"
                    % (i % 500, sender, LIST, rnd.choice(WORDS), rnd.choice(WORDS), i, date, i))
            if i % 10 == 0:
                f.write("MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b%d\"\n\n--b%d\n"
                        "Content-Type: text/plain; charset=utf-8\n\n%s\n--b%d\nContent-Type: application/octet-stream\n"
                        "Content-Transfer-Encoding: base64\n\nAAECAwQFBgcICQ==\n--b%d--\n\n" % (i, i, words, i, i))
            else:
                f.write("\n%s\n\n" % words)


class Imap:
    def __init__(self, sock=None, proc=None):
        self.sock, self.proc, self.buf, self.n = sock, proc, b"", 0

    def send(self, data):
        if self.sock:
            self.sock.sendall(data)
        else:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()

    def recv(self):
        return self.sock.recv(1 << 20) if self.sock else os.read(self.proc.stdout.fileno(), 1 << 20)

    def cmd(self, text):
        self.n += 1
        tag = b"t%d" % self.n
        self.send(tag + b" " + text.encode() + b"\r\n")
        end = re.compile(rb"(^|\r\n)" + tag + rb" (OK|NO|BAD)[^\r\n]*\r\n$")
        while not end.search(self.buf[-300:] if len(self.buf) > 300 else self.buf):
            chunk = self.recv()
            if not chunk:
                raise RuntimeError("connection closed: %r" % self.buf[-300:])
            self.buf += chunk
        out, self.buf = self.buf, b""
        if not re.search(tag + rb" OK", out[-300:]):
            raise RuntimeError("%s failed: %r" % (text, out[-300:]))
        return out

    def read_greeting(self):
        while b"\r\n" not in self.buf:
            self.buf += self.recv()
        self.buf = b""


def timed(fn):
    t = time.perf_counter()
    r = fn()
    return time.perf_counter() - t, r


def measure(imap, mailbox, runs, label, results):
    t_sel, _ = timed(lambda: imap.cmd("SELECT " + mailbox))
    t_env, out = timed(lambda: imap.cmd("FETCH 1:* (UID FLAGS RFC822.SIZE ENVELOPE)"))
    nfetch = out.count(b" FETCH (")
    t_env2, _ = timed(lambda: imap.cmd("FETCH 1:* (UID FLAGS RFC822.SIZE ENVELOPE)"))
    text = [timed(lambda: imap.cmd('SEARCH TEXT "zanahoria"'))[0] for _ in range(runs)]
    hits = imap.cmd('SEARCH TEXT "zanahoria"').split(b"\r\n")[0].count(b" ") - 1
    frm = [timed(lambda: imap.cmd('SEARCH FROM "user17@"'))[0] for _ in range(runs)]
    from_hits = imap.cmd('SEARCH FROM "user17@"').split(b"\r\n")[0].count(b" ") - 1
    rnd = random.Random(2)
    t_body, _ = timed(lambda: [imap.cmd("FETCH %d BODY.PEEK[]" % rnd.randint(1, nfetch)) for _ in range(1000)])
    results[label] = dict(select=t_sel, envelope_first=t_env, envelope_warm=t_env2, messages=nfetch,
                          search_text_median=statistics.median(text), search_text_hits=hits,
                          search_from_median=statistics.median(frm), search_from_hits=from_hits, body_1000=t_body)
    print(label, results[label], flush=True)


def rss_peak_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", type=int, default=100000)
    ap.add_argument("--runs", type=int, default=21)
    ap.add_argument("--dovecot", action="store_true")
    args = ap.parse_args()
    l = Listd()
    ports = l.ports
    results = {}
    try:
        l.listctl("newlist", LIST, "--owner", "ana@mired.org", "--quiet", check=True)
        l.listctl("passwd", "ana@mired.org", "--password", "bench-pw", check=True)
        mbox = os.path.join(l.root, "bench.mbox")
        t, _ = timed(lambda: make_mbox(mbox, args.posts))
        print("generated %d posts (%.0f MB) in %.1f s" % (args.posts, os.path.getsize(mbox) / 1e6, t), flush=True)
        t, r = timed(lambda: l.listctl("import-mbox", LIST, mbox, timeout=3600, check=True))
        print("import-mbox: %.1f s (%s)" % (t, r.stdout.decode().strip()), flush=True)
        results["import_s"] = t
        l.start()
        s = socket.create_connection(("127.0.0.1", ports["imap"]), timeout=600)
        imap = Imap(sock=s)
        imap.read_greeting()
        imap.cmd("LOGIN ana bench-pw")
        measure(imap, '"%s"' % LIST, args.runs, "listd", results)
        imap.cmd("LOGOUT")
        s.close()
        results["listd"]["peak_rss_mib"] = rss_peak_kib(l.proc.pid) / 1024
        if args.dovecot:
            d = tempfile.mkdtemp(prefix="bench-dovecot-")
            try:
                os.chmod(d, 0o755)
                shutil.copytree(os.path.join(l.data, "archive", LIST), os.path.join(d, "mail"))
                with open(os.path.join(d, "dovecot.conf"), "w") as f:
                    f.write("base_dir = %s/run\nlog_path = /dev/null\nssl = no\nmail_location = maildir:%s/mail\n"
                            % (d, d))
                subprocess.run(["chown", "-R", "nobody:nogroup", d], check=True)
                p = subprocess.Popen(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "env",
                                      "USER=bench", "HOME=%s/home" % d, "/usr/lib/dovecot/imap", "-c",
                                      os.path.join(d, "dovecot.conf")], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
                imap = Imap(proc=p)
                imap.read_greeting()
                measure(imap, "INBOX", args.runs, "dovecot", results)
                results["dovecot"]["peak_rss_mib"] = rss_peak_kib(p.pid) / 1024
                imap.cmd("LOGOUT")
                p.wait(30)
            finally:
                shutil.rmtree(d, ignore_errors=True)
    finally:
        l.cleanup()
    print("import-mbox of %d posts: %.1f s" % (args.posts, results["import_s"]))
    for name in ("listd", "dovecot"):
        if name not in results:
            continue
        r = results[name]
        print("%-8s SELECT %.3f s | FETCH 1:* (UID FLAGS RFC822.SIZE ENVELOPE) of %d: first %.2f s, warm %.2f s | "
              "SEARCH TEXT median %.1f ms (%d hits) | SEARCH FROM median %.1f ms (%d hits) | 1000 x FETCH BODY[] %.2f s | "
              "peak RSS %.0f MiB" % (name, r["select"], r["messages"], r["envelope_first"], r["envelope_warm"],
                                     r["search_text_median"] * 1000, r["search_text_hits"],
                                     r["search_from_median"] * 1000, r["search_from_hits"], r["body_1000"],
                                     r["peak_rss_mib"]))


if __name__ == "__main__":
    main()
