"""Archive access over IMAP and POP3 against a running listd (issue 5).

Posts go in with `listctl inject`; ana and bob get passwords with `listctl passwd`. Then: the
seed's telnet dialogs (section 8 b and c) byte for byte over a raw socket, python's imaplib
and poplib, curl imap:// and pop3://, IDLE seeing a new post, anonymous access, STARTTLS /
STLS / implicit TLS with a throw-away certificate, hostile input, and (issue 8) many logins at
once through the password-check queue and the login cache. Loopback only, ports
chosen at run time; every process and file is removed in tearDownClass.
"""
import imaplib
import os
import poplib
import re
import shutil
import socket
import ssl
import subprocess
import time
import unittest

from listd_harness import Listd, wait_for

LIST = "mi_lista@lists.mired.org"

PLAIN = ("From: Ana <ana@mired.org>\nTo: mi_lista@lists.mired.org\nSubject: hola {n}\n"
         "Date: Mon, 2 Feb 2026 10:0{n}:00 +0000\nMessage-ID: <p{n}@mired.org>\n\nTexto del mensaje {n}.\n"
         ".una linea con punto\n")
MULTIPART = ("From: Bob <bob@mired.org>\nTo: mi_lista@lists.mired.org\nSubject: =?UTF-8?Q?ma=C3=B1ana_con_adjunto?=\n"
             "Date: Mon, 2 Feb 2026 11:00:00 +0000\nMessage-ID: <m1@mired.org>\nMIME-Version: 1.0\n"
             "Content-Type: multipart/mixed; boundary=\"sep\"\n\n--sep\nContent-Type: text/plain; charset=utf-8\n"
             "Content-Transfer-Encoding: 8bit\n\nNos vemos mañana en el café.\n--sep\n"
             "Content-Type: application/pdf; name=\"acta.pdf\"\nContent-Disposition: attachment; filename=\"acta.pdf\"\n"
             "Content-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n--sep--\n")


class Raw:
    """A telnet-like client: send a line, read until a predicate says the reply is complete."""

    def __init__(self, port, tls=False):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def read_until(self, done, timeout=10):
        deadline = time.monotonic() + timeout
        while not done(self.buf):
            if time.monotonic() > deadline:
                raise AssertionError("timeout; got %r" % self.buf)
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            self.buf += chunk
        out, self.buf = self.buf, b""
        return out.decode("utf-8")

    def imap(self, line, tag="."):
        self.sock.sendall(line.encode("utf-8") + b"\r\n")
        return self.read_until(lambda b: re.search(rb"(^|\r\n)" + re.escape(tag.encode()) + rb" (OK|NO|BAD)[^\r\n]*\r\n$", b))

    def pop(self, line, multi=False):
        self.sock.sendall(line.encode("utf-8") + b"\r\n")
        return self.read_until(lambda b: (b.startswith(b"-ERR") and b.endswith(b"\r\n")) or
                               (b.endswith(b"\r\n.\r\n") if multi else b.endswith(b"\r\n")))

    def close(self):
        self.sock.close()


class ArchiveAccess(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp_cert = None
        cls.tls_ports = {"imaps": 0, "pop3s": 0}
        extra = {}
        cls.have_openssl = shutil.which("openssl") is not None
        cls.l = None
        try:
            if cls.have_openssl:
                from listd_harness import free_port
                cls.tls_ports = {"imaps": free_port(), "pop3s": free_port()}
                extra = {"imap": "tls_listen = 127.0.0.1:%d\n" % cls.tls_ports["imaps"],
                         "pop3": "tls_listen = 127.0.0.1:%d\n" % cls.tls_ports["pop3s"]}
            cls.l = Listd("[auth]\nplaintext = loopback\n", listeners=extra)
            cls.ports = cls.l.ports
            if cls.have_openssl:
                key, cert = os.path.join(cls.l.root, "key.pem"), os.path.join(cls.l.root, "cert.pem")
                subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out",
                                cert, "-days", "1", "-subj", "/CN=localhost"], check=True, capture_output=True)
                with open(cls.l.config, "a") as f:
                    f.write("[tls]\ntls_cert = %s\ntls_key = %s\n" % (cert, key))
            cls.l.demo()
            cls.l.listctl("passwd", "ana@mired.org", "--password", "contraseña-ana", check=True)
            cls.l.listctl("passwd", "bob@mired.org", "--password", "bob-secret", check=True)
            for n in (1, 2, 3):
                cls.inject(PLAIN.format(n=n), "ana@mired.org")
            cls.inject(MULTIPART, "bob@mired.org")
            # A second list for the IDLE test, so its new post does not change the others' counts.
            cls.l.listctl("newlist", "idle@lists.mired.org", "--owner", "carla@mired.org", "--quiet", check=True)
            cls.l.listctl("members", "idle@lists.mired.org", "add", "carla@mired.org", check=True)
            cls.l.listctl("passwd", "carla@mired.org", "--password", "carla-secret", check=True)
            cls.l.start()
            wait_for(lambda: cls.l.sql("SELECT count(*) FROM archive_imap")[0][0] == 4, what="4 indexed posts")
        except BaseException:
            if cls.l:
                cls.l.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.l.cleanup()

    @classmethod
    def inject(cls, text, sender):
        cls.l.listctl("inject", LIST, "--sender", sender, stdin=text.encode("utf-8"), check=True)

    # --- the seed's dialogs, verbatim -------------------------------------------------------
    def test_seed_imap_dialog(self):
        c = Raw(self.ports["imap"])
        greeting = c.read_until(lambda b: b.endswith(b"\r\n"))
        self.assertRegex(greeting, r"^\* OK \[CAPABILITY IMAP4rev1 [^\]]*AUTH=PLAIN[^\]]*\] .*\r\n$")
        self.assertRegex(c.imap(". LOGIN ana contraseña-ana"), r"^\. OK \[CAPABILITY [^\]]+\] logged in\r\n$")
        self.assertEqual(c.imap('. LIST "" "*"'),
                         '* LIST (\\HasNoChildren) "/" "INBOX"\r\n'
                         '* LIST (\\HasNoChildren) "/" "mi_lista@lists.mired.org"\r\n. OK LIST completed\r\n')
        self.assertEqual(c.imap(". STATUS INBOX (messages)"),
                         '* STATUS "INBOX" (MESSAGES 4)\r\n. OK STATUS completed\r\n')
        sel = c.imap(". SELECT INBOX")
        self.assertRegex(sel, r"^\* FLAGS \(\\Answered \\Flagged \\Deleted \\Seen \\Draft\)\r\n"
                              r"\* OK \[PERMANENTFLAGS \(\\Seen\)\] only \\Seen is kept\r\n"
                              r"\* 4 EXISTS\r\n\* 0 RECENT\r\n\* OK \[UNSEEN 1\] first unseen\r\n"
                              r"\* OK \[UIDVALIDITY \d+\] UIDs valid\r\n\* OK \[UIDNEXT 5\] predicted next UID\r\n"
                              r"\. OK \[READ-WRITE\] SELECT completed\r\n$")
        self.assertEqual(c.imap(". FETCH 1:3 FLAGS"),
                         "* 1 FETCH (FLAGS ())\r\n* 2 FETCH (FLAGS ())\r\n* 3 FETCH (FLAGS ())\r\n"
                         ". OK FETCH completed\r\n")
        subject = "Subject: [mi_lista] hola 1\r\n\r\n"
        self.assertEqual(c.imap(". FETCH 1 (body[header.fields (subject)])"),
                         "* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {%d}\r\n%s FLAGS (\\Seen))\r\n"
                         ". OK FETCH completed\r\n" % (len(subject), subject))
        text = "Texto del mensaje 1.\r\n.una linea con punto\r\n"
        self.assertEqual(c.imap(". FETCH 1 rfc822.text"),
                         "* 1 FETCH (RFC822.TEXT {%d}\r\n%s)\r\n. OK FETCH completed\r\n" % (len(text), text))
        self.assertEqual(c.imap(". LOGOUT"), "* BYE lists.mired.org logging out\r\n. OK LOGOUT completed\r\n")
        self.assertEqual(c.sock.recv(10), b"")  # the server closed the connection
        c.close()

    def test_seed_pop3_dialog(self):
        c = Raw(self.ports["pop3"])
        self.assertEqual(c.read_until(lambda b: b.endswith(b"\r\n")), "+OK lists.mired.org POP3 archive server ready\r\n")
        self.assertEqual(c.pop("USER bob"), "+OK send PASS\r\n")
        self.assertEqual(c.pop("PASS bob-secret"), "+OK maildrop has 4 messages\r\n")
        stat = c.pop("STAT")
        m = re.fullmatch(r"\+OK 4 (\d+)\r\n", stat)
        self.assertTrue(m, stat)
        listing = c.pop("LIST", multi=True)
        sizes = [int(x.split()[1]) for x in listing.split("\r\n")[1:-2]]
        self.assertEqual(len(sizes), 4)
        self.assertEqual(sum(sizes), int(m.group(1)))
        retr = c.pop("RETR 1", multi=True)
        self.assertTrue(retr.startswith("+OK %d octets\r\n" % sizes[0]), retr[:40])
        self.assertIn("\r\nSubject: [mi_lista] hola 1\r\n", retr)
        self.assertIn("\r\n..una linea con punto\r\n.\r\n", retr)  # dot-stuffed
        body = retr[retr.index("\r\n") + 2:-3].replace("\r\n..", "\r\n.")
        self.assertEqual(len(body.encode()), sizes[0])
        self.assertEqual(c.pop("DELE 1"), "+OK message 1 deleted (hidden for you only)\r\n")
        self.assertEqual(c.pop("QUIT"), "+OK 1 messages hidden for you, bye\r\n")
        c.close()
        # Hidden for bob from now on, not for ana; the archive keeps it.
        p = poplib.POP3("127.0.0.1", self.ports["pop3"], timeout=10)
        p.user("bob")
        p.pass_("bob-secret")
        self.assertEqual(p.stat()[0], 3)
        p.quit()
        p = poplib.POP3("127.0.0.1", self.ports["pop3"], timeout=10)
        p.user("ana@mired.org")
        p.pass_("contraseña-ana")
        self.assertEqual(p.stat()[0], 4)
        p.quit()
        self.assertEqual(len(self.l.archive()), 4)

    # --- real clients -------------------------------------------------------------------------
    def test_imaplib(self):
        m = imaplib.IMAP4("127.0.0.1", self.ports["imap"], timeout=10)
        # imaplib's LOGIN only sends ASCII; AUTHENTICATE PLAIN carries the UTF-8 password.
        m.authenticate("PLAIN", lambda _: "\0ana@mired.org\0contraseña-ana".encode())
        typ, boxes = m.list()
        self.assertEqual(typ, "OK")
        self.assertEqual(len(boxes), 2)
        typ, data = m.select('"mi_lista@lists.mired.org"', readonly=True)
        self.assertEqual(data, [b"4"])
        typ, data = m.search(None, "FROM", "bob")
        self.assertEqual(data, [b"4"])
        typ, data = m.search("UTF-8", "SUBJECT", "mañana".encode())
        self.assertEqual(data, [b"4"])
        typ, data = m.search(None, "TEXT", "café".encode())
        self.assertEqual(data, [b"4"])
        typ, data = m.search(None, "OR", "SUBJECT", '"hola 1"', "SUBJECT", '"hola 3"')
        self.assertEqual(data, [b"1 3"])
        typ, data = m.uid("SEARCH", "NOT", "FROM", "ana", "LARGER", "10")
        self.assertEqual(data, [b"4"])
        typ, data = m.fetch("4", "(BODYSTRUCTURE ENVELOPE)")
        meta = data[0].decode()
        self.assertIn('("text" "plain" ("charset" "utf-8") NIL NIL "8bit" 30 0', meta)
        self.assertIn('("application" "pdf" ("name" "acta.pdf") NIL NIL "base64" 12 NIL ("attachment" ("filename" "acta.pdf"))', meta)
        self.assertRegex(meta, r'ENVELOPE \("Mon, 2 Feb 2026 11:00:00 \+0000" "\[mi_lista\] =\?UTF-8\?[^"]+ con adjunto" '
                               r'\(\("Bob" NIL "bob" "mired.org"\)\)')
        typ, data = m.fetch("4", "(BODY.PEEK[1] BODY.PEEK[2.MIME])")
        self.assertEqual(data[0][1], "Nos vemos mañana en el café.".encode())
        self.assertIn(b"Content-Disposition: attachment", data[1][1])
        typ, data = m.uid("FETCH", "1:*", "(UID RFC822.SIZE)")
        self.assertEqual(len(data), 4)
        typ, data = m.fetch("2", "(RFC822)")
        raw = data[0][1]
        self.assertIn(b"Subject: [mi_lista] hola 2\r\n", raw)
        self.assertEqual(m.store("1", "+FLAGS", "(\\Seen)")[0], "NO")  # EXAMINE: read-only
        m.close()
        m.logout()

    def test_seen_is_kept_per_person(self):
        m = imaplib.IMAP4("127.0.0.1", self.ports["imap"], timeout=10)
        m.login("bob", "bob-secret")
        m.select('"mi_lista@lists.mired.org"')
        m.store("3", "+FLAGS", "(\\Seen)")
        m.logout()
        m = imaplib.IMAP4("127.0.0.1", self.ports["imap"], timeout=10)
        m.login("bob", "bob-secret")
        m.select("INBOX")
        typ, data = m.fetch("3", "(FLAGS)")
        self.assertIn(b"\\Seen", data[0])
        m.logout()

    def test_poplib(self):
        p = poplib.POP3("127.0.0.1", self.ports["pop3"], timeout=10)
        self.assertIn(b"UIDL", b" ".join(k.encode() for k in p.capa()))
        p.user("ana")
        p.pass_("contraseña-ana")
        resp, uidls, _ = p.uidl()
        self.assertEqual(len(uidls), 4)
        self.assertEqual(len(set(u.split()[1] for u in uidls)), 4)
        resp, lines, _ = p.top(4, 1)
        self.assertIn(b"MIME-Version: 1.0", lines)
        resp, lines, octets = p.retr(4)
        self.assertIn("Nos vemos mañana en el café.".encode(), lines)
        p.quit()

    def test_curl(self):
        if not shutil.which("curl"):
            self.skipTest("curl not installed")
        out = subprocess.run(["curl", "-sS", "--max-time", "10", "-u", "bob:bob-secret",
                              "imap://127.0.0.1:%d/INBOX;UID=2" % self.ports["imap"]], capture_output=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn(b"Subject: [mi_lista] hola 2", out.stdout)
        out = subprocess.run(["curl", "-sS", "--max-time", "10", "-u", "ana:contraseña-ana",
                              "imap://127.0.0.1:%d/INBOX?SUBJECT%%20adjunto" % self.ports["imap"]],
                             capture_output=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout.strip(), b"* SEARCH 4")
        out = subprocess.run(["curl", "-sS", "--max-time", "10", "-u", "ana:contraseña-ana",
                              "pop3://127.0.0.1:%d/3" % self.ports["pop3"]], capture_output=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn(b"Subject: [mi_lista] hola 3", out.stdout)
        out = subprocess.run(["curl", "-sS", "--max-time", "10", "-u", "ana:wrong",
                              "pop3://127.0.0.1:%d/" % self.ports["pop3"]], capture_output=True)
        self.assertNotEqual(out.returncode, 0)

    def test_fetchmail(self):
        if not shutil.which("fetchmail"):
            self.skipTest("fetchmail not installed")
        rc = os.path.join(self.l.root, "fetchmailrc")
        out = os.path.join(self.l.root, "fetched.mbox")
        with open(rc, "w") as f:
            f.write('poll 127.0.0.1 service %d protocol pop3 uidl auth password\n'
                    '  user "ana@mired.org" password "contraseña-ana" sslproto "" keep fetchall\n'
                    '  mda "cat >> %s"\n' % (self.ports["pop3"], out))
        os.chmod(rc, 0o600)
        env = dict(os.environ, HOME=self.l.root, FETCHMAILHOME=self.l.root)
        p = subprocess.run(["fetchmail", "-f", rc, "--nodetach", "--nosyslog", "-v"], capture_output=True, env=env,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace"))
        with open(out, "rb") as f:
            got = f.read()
        for n in (1, 2, 3):
            self.assertIn(b"Subject: [mi_lista] hola %d" % n, got)
        self.assertIn("Nos vemos mañana en el café.".encode(), got)

    def test_mbox_export_import(self):
        exp = self.l.listctl("export-mbox", LIST)
        self.assertEqual(exp.returncode, 0, exp.stderr)
        mbox = exp.stdout
        self.assertEqual(mbox.count(b"\nFrom "), 3)
        self.assertTrue(mbox.startswith(b"From ana@mired.org "))
        # A hand-made post whose body has lines that mboxrd must quote.
        mbox += (b"From someone@example.org Tue Feb  3 12:00:00 2026\nFrom: someone@example.org\n"
                 b"Subject: viejo hilo\nMessage-ID: <old@example.org>\n\n>From the start\n>>From quoted\n\n")
        self.l.listctl("newlist", "viejo@lists.mired.org", "--owner", "dora@mired.org", "--quiet", check=True)
        self.l.listctl("passwd", "dora@mired.org", "--password", "dora-secret", check=True)
        path = os.path.join(self.l.root, "in.mbox")
        with open(path, "wb") as f:
            f.write(mbox)
        r = self.l.listctl("import-mbox", "viejo@lists.mired.org", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, b"imported 5 posts into viejo@lists.mired.org (0 already archived, 0 too big)\n")
        r = self.l.listctl("import-mbox", "viejo@lists.mired.org", path)
        self.assertEqual(r.stdout, b"imported 0 posts into viejo@lists.mired.org (5 already archived, 0 too big)\n")
        self.assertEqual(self.l.listctl("import-mbox", "nope@lists.mired.org", path).returncode, 67)
        self.assertEqual(self.l.listctl("import-mbox", "viejo@lists.mired.org", "/nonexistent").returncode, 66)
        bad = os.path.join(self.l.root, "bad.mbox")
        with open(bad, "wb") as f:
            f.write(b"Subject: not an mbox\n\nx\n")
        self.assertEqual(self.l.listctl("import-mbox", "viejo@lists.mired.org", bad).returncode, 65)
        # The imported posts are readable and searchable over IMAP, bodies intact.
        m = imaplib.IMAP4("127.0.0.1", self.ports["imap"], timeout=10)
        m.login("dora", "dora-secret")
        typ, data = m.select('"viejo@lists.mired.org"', readonly=True)
        self.assertEqual(data, [b"5"])
        typ, data = m.search(None, "SUBJECT", '"viejo hilo"')
        self.assertEqual(data, [b"5"])
        typ, data = m.fetch("5", "(BODY.PEEK[TEXT])")
        self.assertEqual(data[0][1], b"From the start\r\n>From quoted\r\n")
        typ, data = m.fetch("4", "(BODY.PEEK[1])")
        self.assertEqual(data[0][1], "Nos vemos mañana en el café.".encode())
        m.logout()
        # And the exported text of the old posts is byte-identical after the round trip.
        again = self.l.listctl("export-mbox", "viejo@lists.mired.org").stdout
        self.assertEqual(again[:len(exp.stdout)], exp.stdout)

    def test_mbox_import_spans_batches(self):
        # More posts than one import batch (2,000), so the parse / write / index pipeline hands
        # several batches over; one post appears twice in the file and is imported once.
        n = 2300
        parts = []
        for i in range(n):
            parts.append("From u%d@example.org Mon Feb  2 10:00:00 2026\nFrom: U%d <u%d@example.org>\n"
                         "Subject: lote %d\nMessage-ID: <lote%d@example.org>\n\ncuerpo%05d fin\n\n" % (i % 7, i, i % 7, i, i, i))
        parts.append(parts[1500])
        self.l.listctl("newlist", "lote@lists.mired.org", "--owner", "dora@mired.org", "--quiet", check=True)
        path = os.path.join(self.l.root, "lote.mbox")
        with open(path, "w") as f:
            f.write("".join(parts))
        r = self.l.listctl("import-mbox", "lote@lists.mired.org", path, timeout=120)
        self.assertEqual(r.stdout, b"imported %d posts into lote@lists.mired.org (1 already archived, 0 too big)\n" % n,
                         r.stderr)
        rows = self.l.sql("SELECT a.uid, a.subject, a.path FROM archive a JOIN lists l ON l.id = a.list_id "
                          "WHERE l.name = 'lote' ORDER BY a.uid")
        self.assertEqual([row[0] for row in rows], list(range(1, n + 1)))  # UIDs ascending, no gap
        self.assertEqual([row[1] for row in rows], ["lote %d" % i for i in range(n)])  # in file order
        for row in rows[::250]:
            self.assertTrue(os.path.exists(os.path.join(self.l.data, "archive", row[2])), row[2])
        self.assertEqual(self.l.sql("SELECT count(*) FROM archive_imap i JOIN archive a ON a.id = i.archive_id "
                                    "JOIN lists l ON l.id = a.list_id WHERE l.name = 'lote'"), [(n,)])
        for i in (0, 1999, 2000, n - 1):  # both sides of the batch boundary are searchable
            hits = self.l.sql("SELECT a.uid FROM archive_fts f JOIN archive a ON a.id = f.rowid "
                              "WHERE archive_fts MATCH ?", '"cuerpo%05d"' % i)
            self.assertEqual(hits, [(i + 1,)])
        left = os.listdir(os.path.join(self.l.data, "archive", "lote@lists.mired.org", "tmp"))
        self.assertEqual(left, [])
        r = self.l.listctl("import-mbox", "lote@lists.mired.org", path, timeout=120)
        self.assertEqual(r.stdout, b"imported 0 posts into lote@lists.mired.org (%d already archived, 0 too big)\n"
                         % (n + 1))

    def test_idle_sees_a_new_post(self):
        c = Raw(self.ports["imap"])
        c.read_until(lambda b: b.endswith(b"\r\n"))
        c.imap("a LOGIN carla carla-secret", "a")
        sel = c.imap("b EXAMINE INBOX", "b")
        n = int(re.search(r"\* (\d+) EXISTS", sel).group(1))
        self.assertEqual(n, 0)
        c.sock.sendall(b"c IDLE\r\n")
        self.assertEqual(c.read_until(lambda b: b.endswith(b"\r\n")), "+ idling\r\n")
        self.l.listctl("inject", "idle@lists.mired.org", "--sender", "carla@mired.org",
                       stdin=PLAIN.format(n=7).replace("mi_lista@", "idle@").encode(), check=True)
        got = c.read_until(lambda b: b"EXISTS" in b, timeout=20)
        self.assertIn("* %d EXISTS" % (n + 1), got)
        c.sock.sendall(b"DONE\r\n")
        self.assertEqual(c.read_until(lambda b: b.endswith(b"\r\n")), "c OK IDLE terminated\r\n")
        c.close()

    def imap_login(self, user, password):
        m = imaplib.IMAP4("127.0.0.1", self.ports["imap"], timeout=60)
        try:
            m.login(user, password)
            typ, _ = m.select("INBOX")
            return typ == "OK"
        except imaplib.IMAP4.error:
            return False
        finally:
            try:
                m.logout()
            except (imaplib.IMAP4.error, OSError):
                pass

    def pop_login(self, user, password):
        p = poplib.POP3("127.0.0.1", self.ports["pop3"], timeout=60)
        try:
            p.user(user)
            p.pass_(password)
            p.stat()
            p.quit()
            return True
        except poplib.error_proto:
            p.close()
            return False

    def test_logins_queue_and_the_cache_follows_password_changes(self):
        # Issue 8: password checks run one at a time ([imap] max_logins = 1, the default) and the
        # others wait in a queue; 14 clients at once, IMAP and POP3 mixed, all get their answer,
        # the right passwords in and the wrong ones out.
        import concurrent.futures
        jobs = ([(self.imap_login, "bob", "bob-secret", True)] * 6 + [(self.pop_login, "ana", "contraseña-ana", True)] * 6
                + [(self.imap_login, "bob", "wrong", False), (self.pop_login, "ana", "wrong", False)])
        with concurrent.futures.ThreadPoolExecutor(len(jobs)) as ex:
            futures = [ex.submit(fn, user, pw) for fn, user, pw, _ in jobs]
            got = [f.result(timeout=120) for f in futures]
        self.assertEqual(got, [want for *_, want in jobs])
        # The login cache ([auth] cache_ttl) remembers dora's password with its stored hash: a
        # new password (listctl passwd) makes the old one fail at once, cached or not.
        self.l.listctl("members", LIST, "add", "dora@mired.org", check=True)
        self.l.listctl("passwd", "dora@mired.org", "--password", "uno-dora", check=True)
        self.assertTrue(self.pop_login("dora", "uno-dora"))
        self.assertTrue(self.imap_login("dora@mired.org", "uno-dora"))
        self.l.listctl("passwd", "dora@mired.org", "--password", "dos-dora", check=True)
        self.assertFalse(self.pop_login("dora", "uno-dora"))
        self.assertFalse(self.imap_login("dora", "uno-dora"))
        self.assertTrue(self.pop_login("dora", "dos-dora"))
        self.assertTrue(self.imap_login("dora", "dos-dora"))

    def test_anonymous_reads_public_lists(self):
        m = imaplib.IMAP4("127.0.0.1", self.ports["imap"], timeout=10)
        m.login("anonymous", "guest@example.org")
        typ, data = m.select('"mi_lista@lists.mired.org"', readonly=True)
        self.assertEqual(typ, "OK")
        self.assertGreaterEqual(int(data[0]), 4)
        m.logout()

    # --- Dovecot reads the same Maildir ---------------------------------------------------------
    def fetch_lines(self, transcript):
        """'* N FETCH (X)' lines -> sorted list of X (order-free: UIDs and file order may differ)."""
        out = []
        for m in re.finditer(r"\* \d+ FETCH \((.*?)\)\r\n(?=\* \d+ FETCH|[a-z] OK)", transcript, re.S):
            out.append(m.group(1))
        return sorted(out)

    def test_dovecot_reads_the_same_maildir(self):
        imap_bin = "/usr/lib/dovecot/imap"
        if not os.path.exists(imap_bin) or os.geteuid() != 0 or not shutil.which("setpriv"):
            self.skipTest("needs dovecot-imapd, root and setpriv")
        import tempfile
        d = tempfile.mkdtemp(prefix="listd-dovecot-")
        try:
            os.chmod(d, 0o755)
            shutil.copytree(os.path.join(self.l.data, "archive", LIST), os.path.join(d, "mail"))
            with open(os.path.join(d, "dovecot.conf"), "w") as f:
                f.write("base_dir = %s/run\nlog_path = /dev/stderr\nssl = no\n"
                        "mail_location = maildir:%s/mail:INDEX=MEMORY\n" % (d, d))
            subprocess.run(["chown", "-R", "nobody:nogroup", d], check=True)
            c = Raw(self.ports["imap"])
            c.read_until(lambda b: b.endswith(b"\r\n"))
            c.imap("x LOGIN bob bob-secret", "x")
            c.imap('y EXAMINE "%s"' % LIST, "y")
            for items in ("ENVELOPE", "BODYSTRUCTURE", "RFC822.SIZE", "BODY.PEEK[TEXT]", "BODY.PEEK[1]",
                          "BODY.PEEK[HEADER.FIELDS (FROM SUBJECT)]"):
                script = "a EXAMINE INBOX\r\nb FETCH 1:* (%s)\r\nc LOGOUT\r\n" % items
                dov = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "env",
                                      "USER=test", "HOME=%s/home" % d, imap_bin, "-c", os.path.join(d, "dovecot.conf")],
                                     input=script.encode(), capture_output=True, timeout=30).stdout.decode()
                self.assertIn("\r\nb OK", dov, dov)
                theirs = dov[dov.index("\r\n", dov.index("\r\na OK")) + 2:dov.index("\r\nb OK") + 2]
                ours = c.imap("b FETCH 1:* (%s)" % items, "b")
                self.assertEqual(self.fetch_lines(ours), self.fetch_lines(theirs + "b OK"), items)
                self.assertEqual(len(self.fetch_lines(ours)), 4)
            c.imap("z LOGOUT", "z")
            c.close()
        finally:
            shutil.rmtree(d, ignore_errors=True)

    # --- TLS ----------------------------------------------------------------------------------
    def tls_context(self):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def test_starttls_and_implicit_tls(self):
        if not self.have_openssl:
            self.skipTest("openssl not installed")
        m = imaplib.IMAP4("127.0.0.1", self.ports["imap"], timeout=10)
        self.assertIn("STARTTLS", m.capabilities)
        m.starttls(ssl_context=self.tls_context())
        m.login("bob", "bob-secret")
        self.assertEqual(m.select("INBOX")[0], "OK")
        m.logout()
        m = imaplib.IMAP4_SSL("127.0.0.1", self.tls_ports["imaps"], ssl_context=self.tls_context(), timeout=10)
        m.login("bob", "bob-secret")
        self.assertEqual(m.status("INBOX", "(MESSAGES)")[0], "OK")
        m.logout()
        p = poplib.POP3("127.0.0.1", self.ports["pop3"], timeout=10)
        p.stls(context=self.tls_context())
        p.user("bob")
        p.pass_("bob-secret")
        self.assertGreaterEqual(p.stat()[0], 3)
        p.quit()
        p = poplib.POP3_SSL("127.0.0.1", self.tls_ports["pop3s"], context=self.tls_context(), timeout=10)
        p.user("bob")
        p.pass_("bob-secret")
        p.quit()

    def test_starttls_injection_is_discarded(self):
        if not self.have_openssl:
            self.skipTest("openssl not installed")
        sock = socket.create_connection(("127.0.0.1", self.ports["imap"]), timeout=10)
        sock.recv(4096)
        sock.sendall(b"a STARTTLS\r\nb LOGIN ana contrase\xc3\xb1a-ana\r\n")
        reply = b""
        while not reply.endswith(b"\r\n"):
            reply += sock.recv(1)
        self.assertEqual(reply, b"a OK Begin TLS negotiation now\r\n")
        tls = self.tls_context().wrap_socket(sock)
        tls.sendall(b"c CAPABILITY\r\n")
        got = b""
        while b"c OK" not in got:
            got += tls.recv(4096)
        self.assertNotIn(b"b OK", got)  # the injected LOGIN never ran
        self.assertIn(b"AUTH=PLAIN", got)
        tls.close()

    # --- hostile input ------------------------------------------------------------------------
    def test_bad_input(self):
        c = Raw(self.ports["imap"])
        c.read_until(lambda b: b.endswith(b"\r\n"))
        self.assertEqual(c.imap("a SELECT INBOX", "a"), "a BAD SELECT needs a login first\r\n")
        self.assertEqual(c.imap("b LOGIN {4294967295}", "b"), "b BAD literal too big\r\n")
        c.sock.sendall(b"c SEARCH " + b"(" * 10000 + b"\r\n")
        self.assertEqual(c.read_until(lambda b: b.endswith(b"\r\n")), "* BYE line too long\r\n")
        c.close()
        c = Raw(self.ports["imap"])
        c.read_until(lambda b: b.endswith(b"\r\n"))
        c.imap("a LOGIN ana contraseña-ana", "a")
        c.imap("b SELECT INBOX", "b")
        self.assertEqual(c.imap("c SEARCH " + "(" * 20 + "ALL" + ")" * 20, "c"), "c BAD lists nested too deeply\r\n")
        out = c.imap("d FETCH 1:* (UID FLAGS)", "d")
        self.assertTrue(out.endswith("d OK FETCH completed\r\n"))
        c.sock.sendall(b"e LOGIN {5}\r\nab")  # unterminated literal, then the client goes away
        c.close()
        # Wrong passwords: answered slowly, then the connection is closed.
        c = Raw(self.ports["imap"])
        c.read_until(lambda b: b.endswith(b"\r\n"))
        t0 = time.monotonic()
        self.assertEqual(c.imap("a LOGIN ana nope", "a"), "a NO [AUTHENTICATIONFAILED] invalid user name or password\r\n")
        self.assertGreaterEqual(time.monotonic() - t0, 0.9)
        c.imap("b LOGIN ana nope", "b")
        # The third failure: NO, then BYE, then the server closes (read_until stops at EOF).
        self.assertEqual(c.imap("c LOGIN ana nope", "c"),
                         "c NO [AUTHENTICATIONFAILED] invalid user name or password\r\n"
                         "* BYE too many failed logins\r\n")
        c.close()
        # POP3
        c = Raw(self.ports["pop3"])
        c.read_until(lambda b: b.endswith(b"\r\n"))
        self.assertEqual(c.pop("STAT"), "-ERR log in first\r\n")
        c.pop("USER ana")
        c.pop("PASS contraseña-ana")
        self.assertEqual(c.pop("TOP 1 -1"), "-ERR bad line count\r\n")
        self.assertEqual(c.pop("RETR 0"), "-ERR no such message\r\n")
        self.assertEqual(c.pop("X" * 1000), "-ERR line too long\r\n")
        c.close()
        # The daemon is still fine.
        m = imaplib.IMAP4("127.0.0.1", self.ports["imap"], timeout=10)
        m.login("bob", "bob-secret")
        m.logout()


class Backfill(unittest.TestCase):
    def test_older_posts_are_indexed_when_the_service_starts(self):
        import sqlite3
        l = Listd()
        ports = l.ports
        try:
            l.demo()
            l.listctl("passwd", "bob@mired.org", "--password", "bob-secret", check=True)
            for n in (1, 2):
                l.listctl("inject", LIST, "--sender", "ana@mired.org", stdin=PLAIN.format(n=n).encode(), check=True)
            l.start()
            wait_for(lambda: l.sql("SELECT count(*) FROM archive_imap")[0][0] == 2, what="2 indexed posts")
            l.stop()
            # As if the posts had been archived by a listd without archive access.
            con = sqlite3.connect(os.path.join(l.data, "listd.db"))
            con.execute("DELETE FROM archive_imap")
            con.execute("DELETE FROM archive_fts")
            con.commit()
            con.close()
            l.start()
            wait_for(lambda: l.sql("SELECT count(*) FROM archive_imap")[0][0] == 2, what="backfill")
            self.assertIn("ev=archive-backfilled posts=2", l.log())
            m = imaplib.IMAP4("127.0.0.1", ports["imap"], timeout=10)
            m.login("bob", "bob-secret")
            self.assertEqual(m.select("INBOX", readonly=True)[1], [b"2"])
            self.assertEqual(m.search(None, "BODY", '"mensaje 2"')[1], [b"2"])
            m.logout()
        finally:
            l.cleanup()


if __name__ == "__main__":
    unittest.main()
