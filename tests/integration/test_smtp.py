"""Integration tests of listd's SMTP and LMTP receiver with real clients (issue 3).

python3 smtplib and swaks (pipelining, STARTTLS against a certificate made here with openssl,
8-bit bodies, SIZE) post to the demo list of a running listd; every accepted message ends in
the outbox decorated. Bad input (SECURITY S-01..S-09) goes over raw sockets: each gets its
reply code, and nothing partial is ever spooled. Ports are free loopback ports; every process
and file is removed in tearDown.
"""
import os
import shutil
import smtplib
import socket
import ssl
import subprocess
import time
import unittest

from listd_harness import Listd, free_port, wait_for

POST = (b"From: Ana <ana@mired.org>\r\nTo: mi_lista@lists.mired.org\r\nSubject: Hola por SMTP\r\n"
        b"Message-ID: <smtp-1@mired.org>\r\n\r\nHola a todos.\r\n")
LIST = "mi_lista@lists.mired.org"


class Raw:
    """A plain socket SMTP client that reads replies exactly as sent."""

    def __init__(self, port, timeout=10):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def reply(self):
        """One (possibly multi-line) reply: (code, [lines])."""
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.s.recv(65536)
                if not chunk:
                    raise EOFError("connection closed; got %r" % lines)
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            lines.append(line.decode("utf-8", "replace"))
            if len(line) < 4 or line[3:4] != b"-":
                return int(line[:3]), lines

    def cmd(self, line):
        self.send(line.encode() + b"\r\n")
        return self.reply()

    def closed(self, timeout=10):
        self.s.settimeout(timeout)
        try:
            return self.s.recv(1) == b""
        except ConnectionResetError:
            return True

    def close(self):
        self.s.close()


def swaks(*args, timeout=30):
    return subprocess.run(["swaks", "--silent", "1", "--timeout", "10"] + list(args), capture_output=True,
                          timeout=timeout)


class SmtpTest(unittest.TestCase):
    extra = ""

    def setUp(self):
        self.l = Listd(self.extra)
        self.addCleanup(self.l.cleanup)  # also when setUp fails half-way
        self.l.demo()
        self.l.start()

    def raw(self, ehlo=True):
        r = Raw(self.l.smtp_port)
        self.addCleanup(r.close)
        self.assertEqual(r.reply()[0], 220)
        if ehlo:
            self.assertEqual(r.cmd("EHLO client.test")[0], 250)
        return r

    def nothing_spooled(self):
        time.sleep(0.3)
        self.assertEqual(self.l.files("spool", "tmp"), [])
        self.assertEqual(self.l.files("spool", "new"), [])
        self.assertEqual(self.l.files("spool", "bad"), [])
        self.assertEqual(self.l.outbox(), [])
        self.assertEqual(self.l.sql("SELECT count(*) FROM processed"), [(0,)])

    def outbox_messages(self, n):
        files = wait_for(lambda: len(self.l.outbox()) >= n and self.l.outbox(), what="%d outbox files" % n)
        time.sleep(0.2)
        self.assertEqual(len(self.l.outbox()), n)
        out = []
        for f in files:
            with open(f, "rb") as fh:
                out.append(fh.read())
        return out


class GoodClients(SmtpTest):
    def test_smtplib_post_is_delivered_decorated_with_received(self):
        with smtplib.SMTP("127.0.0.1", self.l.smtp_port, timeout=10) as s:
            code, ehlo = s.ehlo("mua.mired.org")
            self.assertEqual(code, 250)
            for ext in (b"PIPELINING", b"SIZE 10485760", b"8BITMIME", b"SMTPUTF8", b"ENHANCEDSTATUSCODES",
                        b"CHUNKING"):
                self.assertIn(ext, ehlo)
            self.assertNotIn(b"STARTTLS", ehlo)  # no certificate configured
            self.assertEqual(s.sendmail("ana@mired.org", [LIST], POST), {})  # smtplib sends SIZE= itself
        msgs = self.outbox_messages(2)
        for m in msgs:
            self.assertIn(b"Subject: [mi_lista] Hola por SMTP", m)
            self.assertIn(b"List-Id: <mi_lista.lists.mired.org>", m)
            self.assertIn(b"Received: from mua.mired.org ([127.0.0.1])\n\tby lists.mired.org (listd) with ESMTP id ", m)
            self.assertIn(b"Hola a todos.", m)
        self.assertIn("ev=received", self.l.log())

    def test_two_list_addresses_spooled_once_per_list(self):
        self.l.listctl("newlist", "otra@lists.mired.org", "--owner", "bob@mired.org", "--quiet", check=True)
        self.l.listctl("members", "otra@lists.mired.org", "add", "ana@mired.org", "bob@mired.org", check=True)
        with smtplib.SMTP("127.0.0.1", self.l.smtp_port, timeout=10) as s:
            self.assertEqual(s.sendmail("ana@mired.org", [LIST, "otra@lists.mired.org", LIST.upper()], POST), {})
        msgs = self.outbox_messages(4)  # ana + bob from each list; the repeated RCPT adds nothing
        self.assertEqual(sorted(m.count(b"List-Id: <otra.lists.mired.org>") for m in msgs), [0, 0, 1, 1])
        self.assertEqual(len(self.l.sql("SELECT spool_id FROM processed")), 2)

    def test_smtplib_refusals_unknown_and_relay(self):
        with smtplib.SMTP("127.0.0.1", self.l.smtp_port, timeout=10) as s:
            s.ehlo()
            s.mail("ana@mired.org")
            self.assertEqual(s.rcpt("nosuch@lists.mired.org")[0], 550)
            code, text = s.rcpt("victim@example.com")
            self.assertEqual((code, text[:5]), (550, b"5.7.1"))
            self.assertEqual(s.rcpt("mi_lista-request@lists.mired.org")[0], 250)
            s.rset()
        self.nothing_spooled()

    def test_swaks_pipelining_8bit_and_size(self):
        body = "Subject: =?utf-8?q?Ol=C3=A9?=\nContent-Type: text/plain; charset=utf-8\n" \
               "Content-Transfer-Encoding: 8bit\n\nCañón, pingüino, ¿qué tal?\n.leading dot\n"
        p = swaks("--server", "127.0.0.1:%d" % self.l.smtp_port, "--pipeline", "--from", "ana@mired.org", "--to", LIST,
                  "--helo", "swaks.test", "--data", body)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        msgs = self.outbox_messages(2)
        for m in msgs:
            self.assertIn("Cañón, pingüino, ¿qué tal?".encode(), m)
            self.assertIn(b"\n.leading dot\n", m)

    def test_lmtp_one_reply_per_recipient(self):
        self.l.listctl("newlist", "otra@lists.mired.org", "--owner", "bob@mired.org", "--quiet", check=True)
        # otra has no members and takes non-member posts (no held-post notice to its owner).
        self.l.listctl("settings", "otra@lists.mired.org", "nonmember_action", "accept", check=True)
        r = Raw(self.l.lmtp_port)
        self.addCleanup(r.close)
        self.assertEqual(r.reply()[1][0], "220 lists.mired.org LMTP listd ready")
        self.assertEqual(r.cmd("EHLO x")[0], 500)
        self.assertEqual(r.cmd("LHLO postfix.mired.org")[0], 250)
        r.send(b"MAIL FROM:<ana@mired.org>\r\nRCPT TO:<mi_lista@lists.mired.org>\r\nRCPT TO:<nosuch@lists.mired.org>"
               b"\r\nRCPT TO:<otra@lists.mired.org>\r\nDATA\r\n")
        self.assertEqual([r.reply()[0] for _ in range(5)], [250, 250, 550, 250, 354])
        r.send(POST + b".\r\n")
        first, second = r.reply(), r.reply()
        self.assertTrue(first[1][0].startswith("250 2.0.0 Queued as "), first)
        self.assertTrue(second[1][0].startswith("250 2.0.0 Queued as "), second)
        self.assertNotEqual(first, second)
        self.assertEqual(r.cmd("QUIT")[0], 221)
        wait_for(lambda: len(self.l.sql("SELECT spool_id FROM processed")) == 2, what="2 processed")
        self.outbox_messages(2)


class TlsTest(SmtpTest):
    @classmethod
    def setUpClass(cls):
        cls.certdir = os.path.join("/tmp", "listd-smtp-tls-%d" % os.getpid())
        os.makedirs(cls.certdir, exist_ok=True)
        cls.cert, cls.key = os.path.join(cls.certdir, "cert.pem"), os.path.join(cls.certdir, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                        "/CN=lists.mired.org", "-keyout", cls.key, "-out", cls.cert], check=True, capture_output=True,
                       timeout=60)
        cls.tls_port = free_port()
        cls.extra = "[tls]\ntls_cert = %s\ntls_key = %s\n[smtp]\ntls_listen = 127.0.0.1:%d\n" % (cls.cert, cls.key,
                                                                                                cls.tls_port)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.certdir, ignore_errors=True)

    def test_swaks_tls(self):
        p = swaks("--server", "127.0.0.1:%d" % self.l.smtp_port, "--tls", "--from", "ana@mired.org", "--to", LIST,
                  "--data", "Subject: por TLS\n\ncifrado\n")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        for m in self.outbox_messages(2):
            self.assertIn(b"with ESMTPS id", m)
            self.assertIn(b"cifrado", m)

    def test_implicit_tls_listener(self):
        ctx = ssl.create_default_context(cafile=self.cert)
        ctx.check_hostname = False
        with smtplib.SMTP_SSL("127.0.0.1", self.tls_port, context=ctx, timeout=10) as s:
            code, ehlo = s.ehlo("tls.mired.org")
            self.assertEqual(code, 250)
            self.assertNotIn(b"STARTTLS", ehlo)
            self.assertEqual(s.sendmail("ana@mired.org", [LIST], b"Subject: implicit\r\n\r\nTLS from the start\r\n"), {})
        for m in self.outbox_messages(2):
            self.assertIn(b"with ESMTPS id", m)

    def test_pipelined_starttls_injection_is_discarded(self):
        r = self.raw()
        r.send(b"STARTTLS\r\nMAIL FROM:<evil@example.com>\r\nRCPT TO:<mi_lista@lists.mired.org>\r\n")
        self.assertEqual(r.reply()[1], ["220 2.0.0 Ready to start TLS"])
        ctx = ssl.create_default_context(cafile=self.cert)
        ctx.check_hostname = False
        t = ctx.wrap_socket(r.s, server_hostname="lists.mired.org")
        r.s = t
        self.assertEqual(r.cmd("RCPT TO:<mi_lista@lists.mired.org>")[1], ["503 5.5.1 Need MAIL before RCPT"])
        self.assertEqual(r.cmd("MAIL FROM:<ana@mired.org>")[1], ["503 5.5.1 Send EHLO/HELO first"])
        code, lines = r.cmd("EHLO again.test")
        self.assertEqual(code, 250)
        self.assertNotIn("STARTTLS", lines)
        self.assertEqual(r.cmd("QUIT")[0], 221)
        self.nothing_spooled()


class BadInput(SmtpTest):
    extra = "[smtp]\ndata_timeout = 2\ncommand_timeout = 4\nmax_connections_per_ip = 3\n"

    def start_data(self, r):
        r.send(b"MAIL FROM:<ana@mired.org>\r\nRCPT TO:<mi_lista@lists.mired.org>\r\nDATA\r\n")
        self.assertEqual([r.reply()[0] for _ in range(3)], [250, 250, 354])

    def test_smuggling_sequences(self):
        seqs = [b"\n.\n", b"\n.\r", b"\r.\n", b"\r.\r", b"\n.\r\n", b"\r.\r\n", b"\r\n\x00.\r\n", b"\r\n.\r\r\n",
                b"\r\r\n.\r\r\n"]
        r = self.raw()
        for seq in seqs:
            self.start_data(r)
            r.send(b"Subject: s\r\n\r\nhello" + seq + b"MAIL FROM:<evil@example.com>\r\nRCPT TO:<mi_lista@lists."
                   b"mired.org>\r\nDATA\r\nSubject: smuggled\r\n\r\nevil\r\n.\r\n")
            code, lines = r.reply()
            self.assertIn(code, (550, 554), (seq, lines))
            self.assertEqual(r.cmd("NOOP")[0], 250, "exactly one reply for %r" % seq)
        self.nothing_spooled()

    def test_bare_cr_command_and_nul(self):
        r = self.raw()
        self.assertEqual(r.cmd("MAIL FROM:<a@sink.test>\rRCPT TO:<x@y>")[1], ["501 5.5.4 Bare CR in command"])
        r.send(b"MAIL FROM:<a@x\x00@evil>\r\n")
        self.assertEqual(r.reply()[1], ["501 5.5.2 NUL byte in command"])
        self.start_data(r)
        r.send(b"Subject: x\r\n\r\na\x00b\r\n.\r\n")
        self.assertEqual(r.reply()[1], ["554 5.6.0 Message contains a NUL byte"])
        self.nothing_spooled()

    def test_overlong_lines(self):
        r = self.raw()
        r.send(b"NOOP " + b"x" * 100000 + b"\r\nNOOP\r\n")
        self.assertEqual(r.reply()[1], ["500 5.5.2 Line too long"])
        self.assertEqual(r.reply()[0], 250)
        self.start_data(r)
        r.send(b"Subject: x\r\n\r\n" + b"y" * 999 + b"\r\n.\r\n")
        self.assertEqual(r.reply()[1], ["554 5.6.0 Message has a line longer than 998 octets"])
        self.nothing_spooled()

    def test_ten_thousand_rcpts(self):
        r = self.raw()
        r.send(b"MAIL FROM:<ana@mired.org>\r\n" + b"RCPT TO:<mi_lista@lists.mired.org>\r\n" * 10000 + b"DATA\r\n")
        codes = []
        try:
            while True:
                codes.append(r.reply()[0])
        except (EOFError, ConnectionResetError):
            pass
        self.assertEqual(codes[0], 250)
        self.assertEqual(codes[1:101], [250] * 100)
        self.assertEqual(codes[101:121], [452] * 20)
        self.assertEqual(codes[121:], [421])
        self.nothing_spooled()

    def test_oversize_declared_and_body(self):
        r = self.raw()
        self.assertEqual(r.cmd("MAIL FROM:<ana@mired.org> SIZE=10485761")[1],
                         ["552 5.3.4 Message size exceeds fixed maximum message size (10485760)"])
        for bad in ("abc", "-1", "", "99999999999999999999"):
            self.assertEqual(r.cmd("MAIL FROM:<ana@mired.org> SIZE=%s" % bad)[0], 501)
        r.send(b"MAIL FROM:<ana@mired.org> SIZE=1000\r\nRCPT TO:<mi_lista@lists.mired.org>\r\nDATA\r\n")
        self.assertEqual([r.reply()[0] for _ in range(3)], [250, 250, 354])
        line = b"z" * 998 + b"\r\n"
        r.send(b"Subject: big\r\n\r\n")
        for _ in range(11 * 1024):  # 11 MB
            r.send(line)
        r.send(b".\r\n")
        self.assertEqual(r.reply()[0], 552)
        self.nothing_spooled()

    def test_source_route_and_percent_hack(self):
        r = self.raw()
        r.cmd("MAIL FROM:<ana@mired.org>")
        self.assertEqual(r.cmd("RCPT TO:<@lists.mired.org:victim@example.com>")[1][0][:9], "550 5.7.1")
        self.assertEqual(r.cmd("RCPT TO:<victim%example.com@lists.mired.org>")[1][0][:9], "550 5.1.1")
        self.assertEqual(r.cmd("RCPT TO:<victim@example.com@lists.mired.org>")[0], 553)
        self.assertEqual(r.cmd("RCPT TO:<mi_lista%lists.mired.org@lists.mired.org>")[1][0][:9], "550 5.1.1")
        self.assertEqual(r.cmd("DATA")[0], 554)
        self.nothing_spooled()

    def test_silent_client_mid_data(self):
        r = self.raw()
        self.start_data(r)
        r.send(b"Subject: half\r\n\r\nthe rest never comes")
        t0 = time.monotonic()
        self.assertEqual(r.reply()[1], ["421 4.4.2 lists.mired.org Timeout, closing connection"])
        self.assertLess(time.monotonic() - t0, 6)
        self.assertTrue(r.closed())
        self.nothing_spooled()

    def test_drip_fed_command_hits_the_deadline(self):
        r = self.raw()
        r.s.settimeout(1)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 10:  # one byte a second: the line never completes
            r.send(b"N")
            try:
                r.buf += r.s.recv(4096)
                break
            except socket.timeout:
                continue
        self.assertTrue(3.5 < time.monotonic() - t0 < 6, time.monotonic() - t0)  # command_timeout = 4
        r.s.settimeout(10)
        self.assertEqual(r.reply()[1], ["421 4.4.2 lists.mired.org Timeout, closing connection"])
        self.assertTrue(r.closed())

    def test_unauthorized_pipelining(self):
        r = Raw(self.l.smtp_port)
        self.addCleanup(r.close)
        r.reply()
        r.send(b"EHLO early.test\r\nMAIL FROM:<ana@mired.org>\r\n")
        self.assertEqual(r.reply()[0], 250)
        self.assertEqual(r.reply()[1], ["554 5.5.0 Unauthorized pipelining; closing"])
        self.assertTrue(r.closed())
        r2 = self.raw()
        r2.send(b"MAIL FROM:<ana@mired.org>\r\nRCPT TO:<mi_lista@lists.mired.org>\r\nDATA\r\nSubject: early\r\n\r\n"
                b"x\r\n.\r\n")
        self.assertEqual([r2.reply()[0] for _ in range(4)], [250, 250, 354, 554])
        self.assertTrue(r2.closed())
        self.nothing_spooled()

    def test_connections_per_ip(self):
        conns = [self.raw(ehlo=False) for _ in range(3)]
        extra = Raw(self.l.smtp_port)
        self.addCleanup(extra.close)
        self.assertEqual(extra.reply()[1], ["421 4.7.0 lists.mired.org Too many connections from your address"])
        self.assertTrue(extra.closed())
        conns[0].cmd("QUIT")
        wait_for(lambda: self._greets(), what="a free slot")

    def _greets(self):
        r = Raw(self.l.smtp_port)
        try:
            return r.reply()[0] == 220
        finally:
            r.close()

    def test_sigterm_says_421_to_idle_sessions(self):
        r = self.raw()
        self.l.proc.terminate()
        self.assertEqual(r.reply()[1], ["421 4.3.2 lists.mired.org Service shutting down"])
        self.assertTrue(r.closed())
        self.assertEqual(self.l.proc.wait(20), 0)


class ConnectionLimit(SmtpTest):
    extra = "[smtp]\nmax_connections = 2\nmax_errors = 3\n"

    def test_max_connections_and_max_errors(self):
        a, b = self.raw(ehlo=False), self.raw(ehlo=False)
        c = Raw(self.l.smtp_port)
        self.addCleanup(c.close)
        self.assertEqual(c.reply()[1], ["421 4.7.0 lists.mired.org Too many connections, try again later"])
        self.assertEqual(a.cmd("FOO")[0], 500)
        self.assertEqual(a.cmd("BAR")[0], 500)
        a.send(b"BAZ\r\n")
        self.assertEqual(a.reply()[0], 500)
        self.assertEqual(a.reply()[1], ["421 4.7.0 lists.mired.org Too many errors; closing the connection"])
        self.assertTrue(a.closed())
        b.cmd("QUIT")


class EarlyTalkerAndHeaderCaps(SmtpTest):
    """SECURITY S-13 (bytes before the greeting) and S-05 (header caps); [lmtp]'s own SIZE."""
    extra = ("[smtp]\ngreet_pause_ms = 300\nmax_header_fields = 20\nmax_header_size = 4096\n"
             "max_header_field_size = 1000\n[lmtp]\nmax_message_size = 20000\n")

    def test_client_talking_before_the_greeting_gets_554(self):
        r = Raw(self.l.smtp_port)
        self.addCleanup(r.close)
        r.send(b"EHLO early.test\r\nMAIL FROM:<ana@mired.org>\r\nRCPT TO:<mi_lista@lists.mired.org>\r\n")
        code, lines = r.reply()
        self.assertEqual(code, 554)
        self.assertEqual(lines, ["554 5.5.0 lists.mired.org Protocol error: you talked before my greeting; closing"])
        self.assertTrue(r.closed())
        wait_for(lambda: "smtp-early-talker" in self.l.log(), what="the early talker logged")
        # A client that waits for the greeting (after the pause) is served.
        ok = smtplib.SMTP("127.0.0.1", self.l.smtp_port, timeout=10)
        self.addCleanup(ok.close)
        self.assertEqual(ok.ehlo()[0], 250)
        ok.quit()
        self.nothing_spooled()

    def test_header_over_the_caps_is_552_and_nothing_spooled(self):
        many = b"".join(b"X-F%d: v\r\n" % i for i in range(21))
        big = b"".join(b"X-B%d: %s\r\n" % (i, b"v" * 900) for i in range(5))
        folded = b"X-Long: a" + b"".join(b"\r\n " + b"w" * 70 for _ in range(20)) + b"\r\n"
        r = self.raw()
        for header, text in ((many, "Too many header fields"), (big, "Message header too large"),
                             (folded, "A header field is too long")):
            r.send(b"MAIL FROM:<ana@mired.org>\r\nRCPT TO:<mi_lista@lists.mired.org>\r\nDATA\r\n")
            self.assertEqual([r.reply()[0] for _ in range(3)], [250, 250, 354])
            r.send(header + b"\r\nbody\r\n.\r\n")
            self.assertEqual(r.reply()[1], ["552 5.3.4 " + text])
        r.cmd("QUIT")
        self.nothing_spooled()

    def test_lmtp_has_its_own_max_message_size(self):
        r = Raw(self.l.lmtp_port)
        self.addCleanup(r.close)
        self.assertEqual(r.reply()[0], 220)
        code, lines = r.cmd("LHLO client.test")
        self.assertIn("250-SIZE 20000", lines)
        self.assertEqual(r.cmd("MAIL FROM:<ana@mired.org> SIZE=20001")[1],
                         ["552 5.3.4 Message size exceeds fixed maximum message size (20000)"])
        r.cmd("QUIT")
        s = self.raw(ehlo=False)
        self.assertIn("250-SIZE 10485760", s.cmd("EHLO client.test")[1])


if __name__ == "__main__":
    unittest.main()
