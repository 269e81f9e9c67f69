"""Crash chaos during reader sessions: kill -9 listd at random moments while IMAP clients
log in, select and fetch, POP3 clients log in and RETR, and web clients log in (a session row
written to SQLite), browse the admin pages and read the public archive.

After each restart the three services answer a full request again (IMAP LOGIN/SELECT/FETCH
of the right message count, POP3 STAT, web login + archive page), the archive still holds
every post, and PRAGMA integrity_check = ok. CI: 5 rounds; `run --long`: 25.
"""
import http.client
import imaplib
import poplib
import re
import threading
import time
import unittest
import urllib.parse

from chaos_common import LIST, Listd, assert_intact, rng, scale, wait_for

POSTS = 5


def post(n):
    return ("From: Ana <ana@mired.org>\nTo: %s\nSubject: archivo %d\nMessage-ID: <arch-%d@mired.org>\n\n"
            "Texto %d.\n" % (LIST, n, n, n)).encode()


class Web:
    """A cookie-keeping HTTP client (the form of tests/integration/test_web.py)."""

    def __init__(self, port):
        self.port, self.cookies, self.csrf = port, {}, ""

    def request(self, method, path, form=None):
        h, body = {}, None
        if form is not None:
            body = urllib.parse.urlencode(form)
            h["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookies:
            h["Cookie"] = "; ".join("%s=%s" % kv for kv in self.cookies.items())
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            text = r.read().decode("utf-8", "replace")
        finally:
            c.close()
        for v in r.headers.get_all("Set-Cookie") or []:
            name, _, rest = v.partition("=")
            self.cookies[name] = rest.split(";")[0]
        m = re.search(r'name="csrf" value="([0-9a-f]{64})"', text)
        if m:
            self.csrf = m.group(1)
        return r.status, text

    def login(self):
        self.request("GET", "/login")
        return self.request("POST", "/login", {"email": "ana@mired.org", "password": "ana-secret", "next": "/admin",
                                               "csrf": self.csrf})


def imap_session(port):
    m = imaplib.IMAP4("127.0.0.1", port, timeout=10)
    try:
        m.login("ana@mired.org", "ana-secret")
        typ, data = m.select('"%s"' % LIST, readonly=True)
        assert typ == "OK", data
        typ, msgs = m.fetch("1:*", "(UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert typ == "OK", msgs
        m.logout()
        return int(data[0])
    finally:
        try:
            m.shutdown()
        except OSError:
            pass


def pop3_session(port):
    p = poplib.POP3("127.0.0.1", port, timeout=10)
    try:
        p.user("ana@mired.org")
        p.pass_("ana-secret")
        count, _ = p.stat()
        if count:
            p.retr(1)
        p.quit()
        return count
    finally:
        p.close()


def web_session(port):
    w = Web(port)
    st, _ = w.login()
    assert st == 303, st
    st, _ = w.request("GET", "/admin/lists/%s/members" % urllib.parse.quote(LIST, safe="@"))
    assert st == 200, st
    st, text = w.request("GET", "/lists/%s/archive" % urllib.parse.quote(LIST, safe="@"))
    assert st == 200, st
    return text


class Hammer(threading.Thread):
    """Runs one kind of session in a loop until stopped; errors while listd dies are expected."""

    def __init__(self, fn, port, stop):
        super().__init__(daemon=True)
        self.fn, self.port, self.stop, self.ok, self.last_error = fn, port, stop, 0, None

    def run(self):
        while not self.stop.is_set():
            try:
                self.fn(self.port)
                self.ok += 1
            except Exception as e:  # noqa: BLE001 - listd was killed under us
                self.last_error = e
                time.sleep(0.01)


class SessionCrash(unittest.TestCase):
    ROUNDS = scale(5, 25)

    def setUp(self):
        self.l = Listd("[auth]\nplaintext = loopback\n")
        self.addCleanup(self.l.cleanup)
        self.l.listctl("newlist", LIST, "--owner", "ana@mired.org", "--password", "ana-secret", "--quiet",
                       check=True)
        self.l.listctl("members", LIST, "add", "ana@mired.org", "bob@mired.org", check=True)
        for n in range(POSTS):
            self.l.listctl("inject", LIST, "--sender", "ana@mired.org", stdin=post(n), check=True)
        self.rand = rng(self)

    def answers(self):
        self.assertEqual(imap_session(self.l.ports["imap"]), POSTS)
        self.assertEqual(pop3_session(self.l.ports["pop3"]), POSTS)
        self.assertIn("class=\"badge\">%d<" % POSTS, web_session(self.l.http_port))  # posts of the month

    def test_kill9_during_imap_pop3_and_web_sessions(self):
        self.l.start()
        wait_for(lambda: self.l.sql("SELECT count(*) FROM archive")[0][0] == POSTS, what="posts archived")
        self.answers()
        done = {"imap": 0, "pop3": 0, "web": 0}
        errors = {}
        for r in range(self.ROUNDS):
            stop = threading.Event()
            hammers = {"imap": [Hammer(imap_session, self.l.ports["imap"], stop) for _ in range(2)],
                       "pop3": [Hammer(pop3_session, self.l.ports["pop3"], stop) for _ in range(2)],
                       "web": [Hammer(web_session, self.l.http_port, stop) for _ in range(2)]}
            for hs in hammers.values():
                for h in hs:
                    h.start()
            # Kill once every kind has completed a session this round (so each is tested even
            # on a slow machine), then at a random moment 0-0.8 s later.
            wait_for(lambda: all(any(h.ok for h in hs) for hs in hammers.values()), 60,
                     what="a session of each kind")
            time.sleep(self.rand.uniform(0, 0.8))
            self.l.kill9()
            stop.set()
            for kind, hs in hammers.items():
                for h in hs:
                    h.join(30)
                    self.assertFalse(h.is_alive(), kind + " client hung")
                    done[kind] += h.ok
                    errors[kind] = h.last_error or errors.get(kind)
            assert_intact(self, self.l)
            self.l.start()
            self.answers()
            assert_intact(self, self.l)
        print("session chaos: %d rounds, sessions completed before the kills: %s" % (self.ROUNDS, done))
        for kind, n in done.items():
            self.assertGreater(n, 0, "%s: no session ran before a kill (last error %r); nothing was tested" %
                               (kind, errors.get(kind)))


if __name__ == "__main__":
    unittest.main()
