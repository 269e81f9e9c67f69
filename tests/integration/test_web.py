"""Integration tests of the web admin, public pages and REST API against a real listd.

Real HTTP clients (python http.client, raw sockets for the limits, curl for one-click) on
loopback: every route's status codes, login and sessions, CSRF refusal, role checks (owner
of another list, moderator), XSS payloads escaped in held posts and the archive, path
traversal, SQL metacharacters, approve of a held post reaching the outbox and the archive,
RFC 8058 one-click unsubscribe, the confirm page, header/body limits and slow-loris; member
upload by file with curl -F (multipart/form-data, CSRF checked, malformed and oversized forms
refused); archive search through the FTS5 index with hostile query syntax; and HTTPS on
[http] tls_listen with a certificate made here by openssl (curl --cacert, Secure cookies,
Strict-Transport-Security, [auth] plaintext = no refusing passwords on the plain listener,
which keeps serving pages); and the page cache (PageCacheTest: new posts at once, private
archives never from it, ETag/304).
"""
import base64
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import time
import unittest
import urllib.parse

from listd_harness import Listd, wait_for

LIST = "mi_lista@lists.mired.org"
OTHER = "otra@lists.mired.org"

HOSTILE = (b"From: Mallory <mallory@evil.example>\r\nTo: mi_lista@lists.mired.org\r\n"
           b"Subject: <script>alert('subj')</script> =?utf-8?b?PGltZyBzcmM9eCBvbmVycm9yPWFsZXJ0KDEpPg==?=\r\n"
           b"Message-ID: <evil-1@evil.example>\r\nDate: Sat, 28 Nov 2026 10:00:00 +0000\r\n"
           b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=BB\r\n\r\n"
           b"--BB\r\nContent-Type: text/html\r\n\r\n<script>alert('body')</script><a href=\"javascript:alert(2)\">x</a>\r\n"
           b"--BB\r\nContent-Type: text/html; name=\"../../etc/passwd\"\r\n"
           b"Content-Disposition: attachment; filename=\"../../<b>evil</b>.html\"\r\n\r\n<script>alert(3)</script>\r\n"
           b"--BB--\r\n")


class Client:
    """One browser-like client: a cookie jar and the last CSRF token seen."""

    def __init__(self, port):
        self.port = port
        self.cookies = {}
        self.csrf = ""

    def request(self, method, path, body=None, headers=None, form=None):
        h = dict(headers or {})
        if form is not None:
            body = urllib.parse.urlencode(form, doseq=True)
            h["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookies:
            h["Cookie"] = "; ".join("%s=%s" % kv for kv in self.cookies.items())
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
        finally:
            c.close()
        for v in r.headers.get_all("Set-Cookie") or []:
            name, _, rest = v.partition("=")
            value = rest.split(";")[0]
            if value:
                self.cookies[name] = value
            else:
                self.cookies.pop(name, None)
        text = data.decode("utf-8", "replace")
        m = re.search(r'name="csrf" value="([0-9a-f]{64})"', text)
        if m:
            self.csrf = m.group(1)
        return r.status, r.headers, text

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, form, with_csrf=True):
        form = dict(form)
        if with_csrf:
            form["csrf"] = self.csrf
        return self.request("POST", path, form=form)

    def login(self, email, password):
        self.get("/login")
        return self.post("/login", {"email": email, "password": password, "next": "/admin"})


def enc(address):
    return urllib.parse.quote(address, safe="@")


class WebTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.l = Listd()
        l = cls.l
        l.listctl("newlist", LIST, "--owner", "ana@mired.org", "--password", "ana-secret", "--quiet", check=True)
        l.listctl("members", LIST, "add", "ana@mired.org", "bob@mired.org", check=True)
        l.listctl("newlist", OTHER, "--owner", "carol@mired.org", "--password", "carol-secret", "--quiet", check=True)
        l.listctl("admin", "add", "root@mired.org", "--password", "root-secret", check=True)
        l.listctl("members", LIST, "add", "mod@mired.org", "--role", "moderator", check=True)
        l.listctl("passwd", "mod@mired.org", "--password", "mod-secret", check=True)
        l.start()
        cls.port = l.http_port
        wait_for(lambda: cls._up(), what="http listener")

    @classmethod
    def _up(cls):
        try:
            socket.create_connection(("127.0.0.1", cls.port), 1).close()
            return True
        except OSError:
            return False

    @classmethod
    def tearDownClass(cls):
        cls.l.cleanup()

    def client(self):
        return Client(self.port)

    # --- status codes and headers -------------------------------------------------------
    def test_public_status_codes_and_security_headers(self):
        c = self.client()
        st, h, body = c.get("/")
        self.assertEqual(st, 200)
        self.assertIn(LIST, body)
        self.assertIn("default-src 'none'", h["Content-Security-Policy"])
        self.assertEqual(h["X-Content-Type-Options"], "nosniff")
        self.assertEqual(c.get("/lists/" + enc(LIST))[0], 200)
        self.assertEqual(c.get("/lists/nope@lists.mired.org")[0], 404)
        self.assertEqual(c.get("/no/such/page")[0], 404)
        st, h, _ = c.request("DELETE", "/")
        self.assertEqual(st, 405)
        self.assertEqual(h["Allow"], "GET")
        st, h, css = c.get("/static/style.css")
        self.assertEqual((st, h["Content-Type"]), (200, "text/css; charset=utf-8"))
        self.assertEqual(c.get("/static/secret.txt")[0], 404)
        st, h, _ = c.get("/admin")
        self.assertEqual((st, h["Location"]), (303, "/login?next=%2Fadmin"))
        st, h, body = c.get("/api/v1/lists")
        self.assertEqual(st, 401)
        self.assertEqual(json.loads(body)["error"], "authentication required")
        st, _, body = c.get("/metrics")
        self.assertEqual(st, 200)
        self.assertIn("listd_lists 2", body)
        self.assertIn('listd_connections{protocol="http"}', body)
        self.assertEqual(c.request("HEAD", "/")[0], 200)

    def test_path_traversal_refused(self):
        c = self.client()
        for path in ("/static/..%2F..%2Fetc%2Fpasswd", "/static/../../etc/passwd", "/static/%2e%2e",
                     "/lists/" + enc(LIST) + "/archive/msg/..%2F..%2F..%2Fetc%2Fpasswd",
                     "/lists/" + enc(LIST) + "/archive/msg/1/att/..", "/lists/..%2F..%2Fetc/archive",
                     "/confirm/..%2F..%2Fetc%2Fpasswd"):
            st, _, body = c.get(path)
            self.assertIn(st, (400, 404), path)
            self.assertNotIn("root:x:0", body)
        self.assertEqual(c.get("/static/%00")[0], 400)

    # --- login, sessions, CSRF ---------------------------------------------------------
    def test_login_logout_and_session_cookie(self):
        c = self.client()
        st, h, _ = c.login("ana@mired.org", "ana-secret")
        self.assertEqual(st, 303)
        self.assertIn("HttpOnly", h["Set-Cookie"])
        self.assertIn("SameSite=Strict", h["Set-Cookie"])
        self.assertEqual(len(c.cookies["listd_session"]), 64)
        st, _, body = c.get("/admin")
        self.assertEqual(st, 200)
        self.assertIn(LIST, body)
        self.assertNotIn(OTHER, body)  # an owner sees only their lists
        self.assertEqual(c.post("/logout", {}, with_csrf=False)[0], 403)
        self.assertEqual(c.post("/logout", {})[0], 303)
        self.assertEqual(c.get("/admin")[0], 303)

    def test_wrong_password_and_throttling(self):
        c = self.client()
        for _ in range(5):
            st, _, body = c.login("carol@mired.org", "wrong")
            self.assertEqual(st, 401)
            self.assertIn("Wrong email or password", body)
        st, _, body = c.login("carol@mired.org", "carol-secret")  # right password, but throttled
        self.assertEqual(st, 429)
        self.l.sql("DELETE FROM login_failures")

    def test_csrf_refused_without_token_and_with_a_wrong_one(self):
        c = self.client()
        c.login("ana@mired.org", "ana-secret")
        c.get("/admin/lists/%s/settings" % enc(LIST))
        url = "/admin/lists/%s/settings" % enc(LIST)
        st, _, _ = c.post(url, {"description": "hacked"}, with_csrf=False)
        self.assertEqual(st, 403)
        st, _, _ = c.request("POST", url, form={"description": "hacked", "csrf": "0" * 64})
        self.assertEqual(st, 403)
        # A session cookie is not enough for the API either: X-CSRF-Token is required.
        st, _, _ = c.request("PATCH", "/api/v1/lists/%s/settings" % enc(LIST), body='{"description":"x"}',
                             headers={"Content-Type": "application/json"})
        self.assertEqual(st, 403)
        self.assertNotIn(("description", "hacked"), self.settings(LIST))
        # Anonymous forms: double-submit cookie.
        anon = self.client()
        st, _, _ = anon.request("POST", "/lists/%s/subscribe" % enc(LIST), form={"address": "x@mired.org"})
        self.assertEqual(st, 403)

    def settings(self, address):
        p = self.l.listctl("settings", address, check=True)
        out = []
        for line in p.stdout.decode().splitlines():
            k, _, v = line.partition("=")
            out.append((k.strip(), v.strip()))
        return out

    def test_owner_edits_settings_and_bad_value_changes_nothing(self):
        c = self.client()
        c.login("ana@mired.org", "ana-secret")
        url = "/admin/lists/%s/settings" % enc(LIST)
        st, _, body = c.get(url)
        self.assertEqual(st, 200)
        self.assertIn("Subscription policy", body)
        form = {"description": "Curso de español <b>", "subject_prefix": "[mi_lista]", "advertised": "true",
                "member_only": "true", "nonmember_action": "hold", "administrivia": "true", "max_message_size": "0",
                "reply_to": "none", "reply_to_address": "", "subscribe_policy": "confirm",
                "unsubscribe_policy": "confirm", "archive": "true", "archive_public": "true", "footer": ""}
        st, h, _ = c.post(url, form)
        self.assertEqual(st, 303, h)
        self.assertIn(("description", "Curso de español <b>"), self.settings(LIST))
        st, _, body = c.get("/lists/" + enc(LIST))
        self.assertIn("Curso de español &lt;b&gt;", body)
        bad = dict(form, description="changed", reply_to="sideways")
        st, _, body = c.post(url, bad)
        self.assertEqual(st, 422)
        self.assertIn(("description", "Curso de español <b>"), self.settings(LIST))

    def test_role_checks(self):
        ana = self.client()
        ana.login("ana@mired.org", "ana-secret")
        for path in ("/admin/lists/%s" % enc(OTHER), "/admin/lists/%s/settings" % enc(OTHER),
                     "/admin/lists/%s/members" % enc(OTHER), "/admin/lists/%s/held" % enc(OTHER)):
            self.assertEqual(ana.get(path)[0], 403, path)
        self.assertEqual(ana.post("/admin/lists/%s/members" % enc(OTHER),
                                  {"action": "add", "addresses": "x@mired.org"})[0], 403)
        self.assertEqual(ana.post("/admin/lists", {"address": "new@lists.mired.org", "owner": "ana@mired.org"})[0], 403)
        mod = self.client()
        self.assertEqual(mod.login("mod@mired.org", "mod-secret")[0], 303)
        self.assertEqual(mod.get("/admin/lists/%s/held" % enc(LIST))[0], 200)
        self.assertEqual(mod.get("/admin/lists/%s/pending" % enc(LIST))[0], 200)
        self.assertEqual(mod.get("/admin/lists/%s/members" % enc(LIST))[0], 403)
        self.assertEqual(mod.get("/admin/lists/%s/settings" % enc(LIST))[0], 403)
        root = self.client()
        root.login("root@mired.org", "root-secret")
        self.assertEqual(root.get("/admin/lists/%s/settings" % enc(OTHER))[0], 200)

    def test_members_bulk_add_search_remove_and_sql_metacharacters(self):
        c = self.client()
        c.login("ana@mired.org", "ana-secret")
        url = "/admin/lists/%s/members" % enc(LIST)
        c.get(url)
        addrs = "o'brien@mired.org\nzed@mired.org, not-an-address; x@@y"
        st, h, _ = c.post(url, {"action": "add", "addresses": addrs, "role": "member"})
        self.assertEqual(st, 303)
        self.assertIn("2%20added%2C%200%20already%20there%2C%202%20invalid", h["Location"])
        st, _, body = c.get(url + "?q=brien")
        self.assertIn("o&apos;brien@mired.org", body)
        self.assertNotIn("zed@mired.org", body)
        self.assertEqual(self.l.sql("SELECT count(*) FROM people WHERE email LIKE 'o''brien%'"), [(1,)])
        st, _, body = c.get(url + "?q=%25")  # a literal %, not a wildcard
        self.assertIn("0 members", body)
        st, h, _ = c.post(url, {"action": "remove", "addresses": "zed@mired.org o'brien@mired.org"})
        self.assertIn("2%20removed", h["Location"])
        root = self.client()
        root.login("root@mired.org", "root-secret")
        root.get("/admin")
        st, _, body = root.post("/admin/lists", {"address": "x'; DROP TABLE lists;--@lists.mired.org",
                                                 "owner": "ana@mired.org"})
        self.assertEqual(st, 422)
        self.assertEqual(self.l.sql("SELECT count(*) FROM lists WHERE name = 'otra'"), [(1,)])

    def test_site_admin_creates_and_deletes_a_list(self):
        root = self.client()
        root.login("root@mired.org", "root-secret")
        root.get("/admin")
        st, h, _ = root.post("/admin/lists", {"address": "nueva@lists.mired.org", "owner": "ana@mired.org"})
        self.assertEqual((st, h["Location"]), (303, "/admin/lists/nueva@lists.mired.org"))
        self.assertEqual(root.post("/admin/lists", {"address": "nueva@lists.mired.org",
                                                    "owner": "ana@mired.org"})[0], 409)
        root.get("/admin/lists/nueva@lists.mired.org")
        self.assertEqual(root.post("/admin/lists/nueva@lists.mired.org/delete", {"confirm": "wrong"})[0], 422)
        self.assertEqual(root.post("/admin/lists/nueva@lists.mired.org/delete",
                                   {"confirm": "nueva@lists.mired.org"})[0], 303)
        self.assertEqual(root.get("/admin/lists/nueva@lists.mired.org")[0], 404)

    # --- moderation, XSS, archive ---------------------------------------------------------
    def test_held_post_escaped_then_approved_reaches_outbox_and_archive(self):
        before = len(self.l.outbox())
        p = self.l.listctl("inject", LIST, "--sender", "mallory@evil.example", stdin=HOSTILE)
        self.assertEqual(p.returncode, 0, p.stderr)
        wait_for(lambda: self.l.sql("SELECT id FROM held_messages WHERE message_id = 'evil-1@evil.example'"),
                 what="held post")
        hid = self.l.sql("SELECT id FROM held_messages WHERE message_id = 'evil-1@evil.example'")[0][0]
        mod = self.client()
        mod.login("mod@mired.org", "mod-secret")
        st, _, body = mod.get("/admin/lists/%s/held" % enc(LIST))
        self.assertEqual(st, 200)
        self.assertNotIn("<script>", body)
        self.assertNotIn("<img", body)
        self.assertIn("&lt;script&gt;alert(&apos;subj&apos;)&lt;/script&gt;", body)
        st, _, body = mod.get("/admin/lists/%s/held/%d" % (enc(LIST), hid))
        self.assertEqual(st, 200)
        self.assertNotIn("<script>", body)
        self.assertNotIn('href="javascript:', body)
        self.assertIn("&lt;a href=&quot;javascript:alert(2)&quot;&gt;", body)
        self.assertIn("&lt;b&gt;evil&lt;/b&gt;", body)
        st, h, _ = mod.post("/admin/lists/%s/held" % enc(LIST), {"id": str(hid), "action": "approve"})
        self.assertEqual(st, 303)
        self.assertEqual(self.l.sql("SELECT count(*) FROM held_messages WHERE id = ?", hid), [(0,)])
        wait_for(lambda: len(self.l.outbox()) >= before + 2, what="approved post delivered")
        rows = wait_for(lambda: self.l.sql("SELECT uid, subject FROM archive WHERE message_id = 'evil-1@evil.example'"),
                        what="archived")
        uid, subject = rows[0]
        self.assertTrue(subject.startswith("[mi_lista] <script>"), subject)
        c = self.client()
        month = time.strftime("%Y-%m", time.gmtime(self.l.sql("SELECT date FROM archive WHERE uid = ?", uid)[0][0]))
        st, _, body = c.get("/lists/%s/archive" % enc(LIST))
        self.assertIn(month, body)
        st, _, body = c.get("/lists/%s/archive/%s" % (enc(LIST), month))
        self.assertEqual(st, 200)
        self.assertNotIn("<script>", body)
        self.assertIn("/archive/msg/%d" % uid, body)
        st, _, body = c.get("/lists/%s/archive/msg/%d" % (enc(LIST), uid))
        self.assertEqual(st, 200)
        self.assertNotIn("<script>", body)
        self.assertIn("[HTML part, shown as source]", body)
        st, h, data = c.get("/lists/%s/archive/msg/%d/att/0" % (enc(LIST), uid))
        self.assertEqual(st, 200)
        self.assertEqual(h["Content-Type"], "application/octet-stream")
        self.assertTrue(h["Content-Disposition"].startswith("attachment; filename=\""), h["Content-Disposition"])
        self.assertNotIn("/", h["Content-Disposition"].split("filename=")[1])
        self.assertEqual(h["X-Content-Type-Options"], "nosniff")
        self.assertEqual(c.get("/lists/%s/archive/msg/%d/att/7" % (enc(LIST), uid))[0], 404)
        st, _, body = c.get("/lists/%s/archive/search?q=%%3Cscript" % enc(LIST))
        self.assertIn("/archive/msg/%d" % uid, body)
        st, _, body = c.get("/lists/%s/archive/search?q=nothing-matches-this" % enc(LIST))
        self.assertIn("No messages match", body)
        self.assertEqual(c.get("/lists/%s/archive/2026-13" % enc(LIST))[0], 404)

    def test_held_reject_discard_ban_several_at_once(self):
        ids = []
        for i in range(3):
            msg = ("From: spam%d@evil.example\nTo: %s\nSubject: offer %d\nMessage-ID: <spam-%d@evil.example>\n\nbuy\n"
                   % (i, LIST, i, i)).encode()
            self.l.listctl("inject", LIST, "--sender", "spam%d@evil.example" % i, stdin=msg, check=True)
        wait_for(lambda: len(self.l.sql("SELECT id FROM held_messages WHERE message_id LIKE 'spam-%'")) == 3,
                 what="3 held")
        ids = [r[0] for r in self.l.sql("SELECT id FROM held_messages WHERE message_id LIKE 'spam-%' ORDER BY id")]
        c = self.client()
        c.login("ana@mired.org", "ana-secret")
        c.get("/admin/lists/%s/held" % enc(LIST))
        st, h, _ = c.post("/admin/lists/%s/held" % enc(LIST), {"id": [str(ids[0]), str(ids[1])], "action": "discard"})
        self.assertIn("discard%3A%202%20done", h["Location"])
        st, _, _ = c.post("/admin/lists/%s/held" % enc(LIST), {"id": str(ids[2]), "action": "ban"})
        self.assertEqual(st, 303)
        self.assertEqual(self.l.sql("SELECT count(*) FROM held_messages WHERE message_id LIKE 'spam-%'"), [(0,)])
        self.assertEqual(self.l.sql("SELECT pattern FROM bans"), [("spam2@evil.example",)])
        self.assertEqual(c.post("/admin/lists/%s/held" % enc(LIST), {"id": "1", "action": "explode"})[0], 422)

    # --- REST API ---------------------------------------------------------------------------
    def api(self, method, path, token=None, body=None, basic=None):
        h = {"Content-Type": "application/json"}
        if token:
            h["Authorization"] = "Bearer " + token
        if basic:
            h["Authorization"] = "Basic " + base64.b64encode(basic.encode()).decode()
        st, hd, text = self.client().request(method, path, body=json.dumps(body) if body is not None else None,
                                             headers=h)
        return st, (json.loads(text) if text.strip() and hd["Content-Type"] == "application/json" else text)

    def test_rest_api(self):
        token = self.l.listctl("token", "create", "ana@mired.org", check=True).stdout.decode().strip()
        self.assertRegex(token, "^[0-9a-f]{64}$")
        self.assertEqual(self.l.sql("SELECT count(*) FROM api_tokens WHERE token_hash = ?", token), [(0,)])
        self.assertEqual(self.api("GET", "/api/v1/lists", "f" * 64)[0], 401)
        st, lists = self.api("GET", "/api/v1/lists", token)
        self.assertEqual(st, 200)
        self.assertEqual([x["address"] for x in lists], [LIST])
        st, r = self.api("POST", "/api/v1/lists/%s/members" % enc(LIST), token, {"emails": ["api1@mired.org",
                                                                                          "api2@mired.org"]})
        self.assertEqual((st, r), (200, {"added": 2, "existing": 0}))
        st, r = self.api("POST", "/api/v1/lists/%s/members" % enc(LIST), token, {"emails": ["ok@mired.org", "bad"]})
        self.assertEqual(st, 422)
        self.assertEqual(self.l.sql("SELECT count(*) FROM people WHERE email = 'ok@mired.org'"), [(0,)])
        st, r = self.api("GET", "/api/v1/lists/%s/members?q=api&limit=1" % enc(LIST), token)
        self.assertEqual((st, r["total"], len(r["members"])), (200, 2, 1))
        st, r = self.api("DELETE", "/api/v1/lists/%s/members/api1@mired.org" % enc(LIST), token)
        self.assertEqual((st, r), (200, {"removed": 1}))
        self.assertEqual(self.api("DELETE", "/api/v1/lists/%s/members/api1@mired.org" % enc(LIST), token)[0], 404)
        st, s = self.api("PATCH", "/api/v1/lists/%s/settings" % enc(LIST), token, {"emergency": True})
        self.assertEqual((st, s["emergency"]), (200, "yes"))
        st, r = self.api("PATCH", "/api/v1/lists/%s/settings" % enc(LIST), token, {"emergency": False, "nope": "1"})
        self.assertEqual(st, 422)
        self.assertEqual(self.api("GET", "/api/v1/lists/%s/settings" % enc(LIST), token)[1]["emergency"], "yes")
        self.api("PATCH", "/api/v1/lists/%s/settings" % enc(LIST), token, {"emergency": False})
        self.assertEqual(self.api("GET", "/api/v1/lists/%s/settings" % enc(OTHER), token)[0], 403)
        self.assertEqual(self.api("POST", "/api/v1/lists", token, {"address": "z@lists.mired.org",
                                                                    "owner": "ana@mired.org"})[0], 403)
        st, held = self.api("GET", "/api/v1/lists/%s/held" % enc(LIST), token)
        self.assertEqual(st, 200)
        self.assertIsInstance(held, list)
        self.assertEqual(self.api("POST", "/api/v1/lists/%s/held/999999" % enc(LIST), token,
                                  {"action": "discard"})[0], 404)
        st, jobs = self.api("GET", "/api/v1/jobs", token)
        self.assertEqual(st, 200)
        self.assertTrue(all(j["list"] == LIST for j in jobs))
        self.assertEqual(self.api("POST", "/api/v1/lists/%s/members" % enc(LIST), token, None)[0], 400)
        st, _, _ = self.client().request("POST", "/api/v1/lists/%s/members" % enc(LIST), body="{not json",
                                         headers={"Authorization": "Bearer " + token,
                                                  "Content-Type": "application/json"})
        self.assertEqual(st, 400)
        # HTTP Basic over loopback.
        st, lists = self.api("GET", "/api/v1/lists", basic="root@mired.org:root-secret")
        self.assertEqual(st, 200)
        self.assertEqual(sorted(x["address"] for x in lists), sorted([LIST, OTHER]))
        self.assertEqual(self.api("GET", "/api/v1/lists", basic="root@mired.org:nope")[0], 401)
        self.l.sql("DELETE FROM login_failures")

    # --- subscription pages -------------------------------------------------------------
    def confirm_url_for(self, address, since):
        def find():
            for path in self.l.outbox():
                if path in since:
                    continue
                with open(path, "rb") as f:
                    text = f.read().decode("utf-8", "replace")
                if "Delivered-To: " + address in text:
                    m = re.search(r"/confirm/([0-9a-f]{32})", text)
                    if m:
                        return m.group(1)
            return None
        return wait_for(find, what="confirmation mail to " + address)

    def test_subscribe_from_public_page_and_confirm(self):
        c = self.client()
        st, _, body = c.get("/lists/" + enc(LIST))
        self.assertIn('action="/lists/%s/subscribe"' % LIST, body)
        before = set(self.l.outbox())
        st, _, body = c.post("/lists/%s/subscribe" % enc(LIST), {"address": "nuevo@mired.org"})
        self.assertEqual(st, 200)
        self.assertIn("confirmation message", body)
        token = self.confirm_url_for("nuevo@mired.org", before)
        st, _, body = c.get("/confirm/" + token)
        self.assertEqual(st, 200)
        self.assertIn("nuevo@mired.org", body)
        self.assertEqual(self.l.sql("SELECT count(*) FROM people p JOIN memberships m ON m.person_id = p.id "
                                    "WHERE p.email = 'nuevo@mired.org'"), [(0,)])  # GET does not consume
        st, _, body = c.post("/confirm/" + token, {})
        self.assertEqual(st, 200)
        self.assertIn("now subscribed", body)
        self.assertEqual(c.post("/confirm/" + token, {})[0], 404)  # single use
        self.assertEqual(c.get("/confirm/" + "0" * 32)[0], 404)
        st, _, _ = c.post("/lists/%s/subscribe" % enc(LIST), {"address": "not an address"})
        self.assertEqual(st, 422)

    def test_one_click_unsubscribe(self):
        self.l.listctl("members", LIST, "add", "leaver@mired.org", check=True)
        st, _, body = self.client().get("/lists/%s/unsubscribe?address=leaver%%40mired.org" % enc(LIST))
        self.assertEqual(st, 200)
        self.assertIn('value="leaver@mired.org"', body)
        self.assertIn("<button", body)
        before = set(self.l.outbox())
        # RFC 8058: a plain POST, no cookies, no CSRF token, no login (curl like a mail client).
        url = "http://127.0.0.1:%d/lists/%s/unsubscribe?address=leaver%%40mired.org" % (self.port, enc(LIST))
        p = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
                            "-d", "List-Unsubscribe=One-Click", url], capture_output=True, timeout=30)
        self.assertEqual(p.stdout.decode(), "200")
        token = self.confirm_url_for("leaver@mired.org", before)
        c = self.client()
        c.get("/confirm/" + token)
        st, _, body = c.post("/confirm/" + token, {})
        self.assertEqual(st, 200)
        self.assertIn("no longer subscribed", body)
        st, _, _ = self.client().request("POST", "/lists/%s/unsubscribe" % enc(LIST),
                                         form={"List-Unsubscribe": "One-Click"})
        self.assertEqual(st, 400)  # no address: the page asks for it

    # --- member upload by file (multipart/form-data, no JavaScript) --------------------------
    def curl_form(self, c, path, fields, files=None, extra=None):
        """POST a multipart form with curl -F, with the client's cookies; (status, Location)."""
        cmd = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", "--max-time", "30",
               "-H", "Cookie: " + "; ".join("%s=%s" % kv for kv in c.cookies.items())]
        for k, v in fields:
            cmd += ["--form-string", "%s=%s" % (k, v)]
        for k, fpath in (files or []):
            cmd += ["-F", "%s=@%s;type=text/plain" % (k, fpath)]
        cmd += (extra or []) + ["http://127.0.0.1:%d%s" % (self.port, path)]
        p = subprocess.run(cmd, capture_output=True, timeout=60)
        code, _, loc = p.stdout.decode().partition(" ")
        return int(code), urllib.parse.unquote(loc)

    def test_member_upload_by_file_with_curl(self):
        c = self.client()
        c.login("ana@mired.org", "ana-secret")
        url = "/admin/lists/%s/members" % enc(LIST)
        _, _, page = c.get(url)
        self.assertIn('enctype="multipart/form-data"', page)
        self.assertIn('type="file" id="addresses-file" name="addresses_file"', page)
        path = os.path.join(self.l.root, "upload.csv")
        with open(path, "wb") as f:
            f.write(b"\xef\xbb\xbfup1@mired.org\r\nup2@mired.org\nnot-an-address\nup3@mired.org, up1@mired.org\n")
        fields = [("csrf", c.csrf), ("role", "member"), ("action", "add"), ("addresses", "up4@mired.org")]
        # Without the CSRF token: refused, nothing added.
        st, _ = self.curl_form(c, url, fields[1:], [("addresses_file", path)])
        self.assertEqual(st, 403)
        self.assertEqual(self.l.sql("SELECT count(*) FROM people WHERE email LIKE 'up_@mired.org'"), [(0,)])
        st, loc = self.curl_form(c, url, fields, [("addresses_file", path)])
        self.assertEqual(st, 303, loc)
        self.assertIn("4 added", loc)  # up1-3 from the file, up4 pasted; up1 twice counts once
        self.assertIn("1 invalid (first: not-an-address)", loc)
        members = {r[0] for r in self.l.sql(
            "SELECT p.email FROM people p JOIN memberships m ON m.person_id = p.id JOIN lists l ON l.id = m.list_id "
            "WHERE l.name = 'mi_lista' AND m.role = 'member' AND p.email LIKE 'up_@mired.org'")}
        self.assertEqual(members, {"up1@mired.org", "up2@mired.org", "up3@mired.org", "up4@mired.org"})
        # The same form removes them (one code path for add and remove, paste and file).
        st, loc = self.curl_form(c, url, [("csrf", c.csrf), ("action", "remove")], [("addresses_file", path)])
        self.assertEqual(st, 303)
        self.assertIn("3 removed", loc)
        # A browser's form with no file chosen: an empty file part.
        boundary = "----listdTestBoundary"
        body = ("--%s\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n%s\r\n"
                "--%s\r\nContent-Disposition: form-data; name=\"addresses\"\r\n\r\nup5@mired.org\r\n"
                "--%s\r\nContent-Disposition: form-data; name=\"addresses_file\"; filename=\"\"\r\n"
                "Content-Type: application/octet-stream\r\n\r\n\r\n"
                "--%s\r\nContent-Disposition: form-data; name=\"action\"\r\n\r\nadd\r\n--%s--\r\n" %
                (boundary, c.csrf, boundary, boundary, boundary, boundary))
        ct = {"Content-Type": "multipart/form-data; boundary=" + boundary}
        st, h, _ = c.request("POST", url, body=body, headers=ct)
        self.assertEqual(st, 303)
        self.assertIn("1%20added", h["Location"])
        # Malformed: truncated before the closing boundary, no boundary parameter, a bad part.
        st, _, text = c.request("POST", url, body=body[:-12], headers=ct)
        self.assertEqual(st, 400)
        self.assertIn("closing boundary", text)
        st, _, _ = c.request("POST", url, body=body, headers={"Content-Type": "multipart/form-data"})
        self.assertEqual(st, 400)
        st, _, _ = c.request("POST", url, body="--%s\r\nX: y\r\n\r\nv\r\n--%s--" % (boundary, boundary),
                             headers=ct)
        self.assertEqual(st, 400)
        # Too many parts: 413 (limit), and nothing changed.
        many = "".join("--%s\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\nm%d@mired.org\r\n" %
                       (boundary, i) for i in range(100)) + "--%s--\r\n" % boundary
        st, _, _ = c.request("POST", url, body=many, headers=ct)
        self.assertEqual(st, 413)
        # A file over the 8 MiB body limit: 413 from the server before any parsing.
        big = os.path.join(self.l.root, "big.txt")
        with open(big, "wb") as f:
            f.write(b"x@mired.org\n" * (800 * 1024))
        st, _ = self.curl_form(c, url, [("csrf", c.csrf), ("action", "add")], [("addresses_file", big)])
        self.assertEqual(st, 413)
        self.assertEqual(self.l.sql("SELECT count(*) FROM people WHERE email = 'x@mired.org'"), [(0,)])

    # --- archive search (FTS5) --------------------------------------------------------------
    def test_archive_search_uses_the_index_and_survives_hostile_queries(self):
        posts = [("s1", "Clase de gramática", "El subjuntivo presente es difícil.\nNEAR(this) * - \"quoted\""),
                 ("s2", "Vocabulario", "Palabras nuevas: mesa, silla, ventana."),
                 ("s3", "Re: Clase de gramática", "Gracias por la explicación del subjuntivo.")]
        for mid, subject, body in posts:
            msg = ("From: Ana <ana@mired.org>\nTo: %s\nSubject: %s\nMessage-ID: <%s@search.test>\n"
                   "Date: Sat, 28 Nov 2026 10:00:00 +0000\nContent-Type: text/plain; charset=utf-8\n\n%s\n" %
                   (LIST, subject, mid, body)).encode()
            self.l.listctl("inject", LIST, "--sender", "ana@mired.org", stdin=msg, check=True)
        wait_for(lambda: self.l.sql("SELECT count(*) FROM archive a JOIN archive_fts f ON f.rowid = a.id "
                                    "WHERE a.message_id LIKE '%@search.test'") == [(3,)], what="3 indexed posts")
        uid = {r[0].split("@")[0]: r[1] for r in self.l.sql(
            "SELECT message_id, uid FROM archive WHERE message_id LIKE '%@search.test'")}
        c = self.client()
        base = "/lists/%s/archive/search?q=" % enc(LIST)

        def hits(q):
            st, _, body = c.get(base + urllib.parse.quote(q))
            self.assertEqual(st, 200, q)
            return {k for k, u in uid.items() if "/archive/msg/%d\"" % u in body}

        self.assertEqual(hits("subjuntivo"), {"s1", "s3"})  # in the text, not the subject
        self.assertEqual(hits("SUBJUNTIVO gramática"), {"s1", "s3"})
        self.assertEqual(hits("subjuntivo presente"), {"s1"})
        self.assertEqual(hits('"subjuntivo presente"'), {"s1"})
        self.assertEqual(hits('"presente subjuntivo"'), set())
        self.assertEqual(hits("ventana"), {"s2"})
        self.assertEqual(hits("mesa zq"), set())  # short words must match too
        self.assertEqual(hits("mesa la"), {"s2"})
        self.assertEqual(hits("Vocabulario"), {"s2"})
        self.assertEqual(hits("NEAR(this)"), {"s1"})  # FTS5 syntax is searched as text
        self.assertEqual(hits('quoted"'), {"s1"})  # a quote inside a word is text
        self.assertEqual(hits('"es difícil" "NEAR(this) *"'), {"s1"})
        # Hostile input: never a 500, never an FTS5 syntax error.
        for q in ('"', '""', '"""', "NEAR(", "NEAR(a b, 2)", "*", "a*", "-", "-x", "^start", "subject:x",
                  "{subject body}:x", "body : x", "a OR b", "NOT", "AND AND", "(", ")", "'", "\\", "%", "_",
                  "x'); DROP TABLE archive;--", "\u00e9\u00e9", "\u2028", "a" * 5000, " ".join(["w"] * 100),
                  "\ufffd\ufffe", "+", ":", "\t"):
            st, _, body = c.get(base + urllib.parse.quote(q))
            self.assertEqual(st, 200, q)
            self.assertNotIn("Something went wrong", body)
        st, _, _ = c.get(base + "%FF%FE%22NEAR(")  # invalid UTF-8 as well
        self.assertEqual(st, 200)
        self.assertEqual(c.get(base + "%00")[0], 200)  # a NUL is refused by the decoder: no search
        self.assertEqual(self.l.sql("SELECT count(*) FROM archive WHERE message_id LIKE '%@search.test'"), [(3,)])

    # --- limits ------------------------------------------------------------------------------
    def raw(self, data, read_timeout=20):
        s = socket.create_connection(("127.0.0.1", self.port), 5)
        s.settimeout(read_timeout)
        try:
            try:
                s.sendall(data)
            except OSError:
                pass  # the server may answer and close before reading everything
            out = b""
            while True:
                try:
                    chunk = s.recv(65536)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
            return out
        finally:
            s.close()

    def test_huge_header_431_and_huge_body_413(self):
        big = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (10 * 1024 * 1024) + b"\r\n\r\n"
        self.assertTrue(self.raw(big).startswith(b"HTTP/1.1 431"))
        body = (b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                b"Content-Length: 104857600\r\n\r\nemail=")
        self.assertTrue(self.raw(body).startswith(b"HTTP/1.1 413"))
        self.assertTrue(self.raw(b"BREW / HTCPCP/1.0\r\n\r\n").startswith(b"HTTP/1.1 400"))

    def test_keep_alive_then_slow_loris_408(self):
        two = b"GET /static/app.js HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        out = self.raw(two)
        self.assertEqual(out.count(b"HTTP/1.1 200"), 2)
        start = time.monotonic()
        s = socket.create_connection(("127.0.0.1", self.port), 5)
        s.settimeout(30)
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        got = b""
        for _ in range(14):  # one header byte a second: never completes
            try:
                s.sendall(b"X")
            except OSError:
                break
            time.sleep(1)
            s.setblocking(False)
            try:
                got += s.recv(4096)
            except (BlockingIOError, OSError):
                pass
            s.setblocking(True)
            if got:
                break
        s.close()
        self.assertTrue(got.startswith(b"HTTP/1.1 408"), got[:40])
        self.assertLess(time.monotonic() - start, 14)


@unittest.skipUnless(shutil.which("openssl") and shutil.which("curl"), "openssl or curl missing")
class WebTlsTest(unittest.TestCase):
    """[http] tls_listen: HTTPS beside the plain listener, a self-signed certificate made here."""

    @classmethod
    def setUpClass(cls):
        from listd_harness import free_port
        cls.tls_port = free_port()
        cls.l = Listd("[auth]\nplaintext = no\n",
                      listeners={"http": "tls_listen = 127.0.0.1:%d\nhsts_max_age = 86400\n" % cls.tls_port})
        l = cls.l
        cls.key, cls.cert = os.path.join(l.root, "key.pem"), os.path.join(l.root, "cert.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", cls.key, "-out",
                        cls.cert, "-days", "1", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], check=True, capture_output=True)
        with open(l.config, "a") as f:
            f.write("[tls]\ntls_cert = %s\ntls_key = %s\n" % (cls.cert, cls.key))
        l.listctl("newlist", LIST, "--owner", "ana@mired.org", "--password", "ana-secret", "--quiet", check=True)
        l.start()
        cls.port = l.http_port
        cls.jar = os.path.join(l.root, "cookies.txt")

    @classmethod
    def tearDownClass(cls):
        cls.l.cleanup()

    def curl(self, *args, tls=True, cacert=True):
        """curl -si: (exit code, status, headers (lower-case names), body)."""
        cmd = ["curl", "-si", "--max-time", "20", "-b", self.jar, "-c", self.jar]
        if cacert:
            cmd += ["--cacert", self.cert]
        url = ("https://127.0.0.1:%d" % self.tls_port) if tls else ("http://127.0.0.1:%d" % self.port)
        args = list(args)
        args[-1] = url + args[-1]
        p = subprocess.run(cmd + args, capture_output=True, timeout=60)
        if p.returncode != 0:
            return p.returncode, 0, {}, ""
        raw = p.stdout.decode("utf-8", "replace")
        head, _, body = raw.partition("\r\n\r\n")
        lines = head.split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers.setdefault(k.strip().lower(), []).append(v.strip())
        return 0, status, headers, body

    def csrf(self, body):
        return re.search(r'name="csrf" value="([0-9a-f]{64})"', body).group(1)

    def test_https_pages_secure_cookies_and_hsts(self):
        if os.path.exists(self.jar):
            os.unlink(self.jar)
        rc, st, h, body = self.curl("/")
        self.assertEqual((rc, st), (0, 200))
        self.assertIn(LIST, body)
        self.assertEqual(h["strict-transport-security"], ["max-age=86400"])
        self.assertTrue(h["set-cookie"][0].startswith("listd_csrf="), h["set-cookie"])
        self.assertIn("; Secure", h["set-cookie"][0])
        rc, st, h, body = self.curl("/login")
        self.assertEqual(st, 200)
        rc, st, h, _ = self.curl("-d", "csrf=%s&email=ana%%40mired.org&password=ana-secret&next=%%2Fadmin" %
                                 self.csrf(body), "/login")
        self.assertEqual(st, 303)
        cookie = [c for c in h["set-cookie"] if c.startswith("listd_session=")][0]
        for attr in ("HttpOnly", "SameSite=Strict", "Secure"):
            self.assertIn(attr, cookie)
        rc, st, _, body = self.curl("/admin")
        self.assertEqual(st, 200)
        self.assertIn(LIST, body)
        # Keep-alive over TLS: two requests on one connection (curl reuses it for one command).
        url = "https://127.0.0.1:%d" % self.tls_port
        p = subprocess.run(["curl", "-s", "-o", "/dev/null", "-o", "/dev/null", "-w", "%{http_code}%{num_connects}\n",
                            "--cacert", self.cert, url + "/", url + "/static/style.css"],
                           capture_output=True, timeout=60)
        self.assertEqual(p.stdout.decode().split(), ["2001", "2000"])
        # Basic auth is accepted over TLS.
        p = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", self.cert,
                            "-u", "ana@mired.org:ana-secret", url + "/api/v1/lists"], capture_output=True, timeout=60)
        self.assertEqual(p.stdout.decode(), "200")

    def test_certificate_is_really_checked(self):
        rc, _, _, _ = self.curl("/", cacert=False)
        self.assertEqual(rc, 60)  # curl: peer certificate cannot be authenticated with known CA certificates
        # Plain HTTP sent to the TLS port: no answer in the clear, the connection is closed.
        s = socket.create_connection(("127.0.0.1", self.tls_port), 5)
        s.settimeout(15)
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            got = s.recv(100)
        except OSError:
            got = b""
        s.close()
        self.assertNotIn(b"HTTP/1.1 200", got)
        self.assertEqual(self.curl("/")[1], 200)  # still serving

    def test_plain_listener_still_serves_but_takes_no_passwords(self):
        if os.path.exists(self.jar):
            os.unlink(self.jar)
        rc, st, h, body = self.curl("/", tls=False)
        self.assertEqual((rc, st), (0, 200))
        self.assertNotIn("strict-transport-security", h)
        self.assertTrue(h["set-cookie"][0].startswith("listd_csrf="), h["set-cookie"])
        self.assertNotIn("Secure", h["set-cookie"][0])
        rc, st, h, body = self.curl("/login", tls=False)
        self.assertEqual(st, 200)
        rc, st, h, body = self.curl("-d", "csrf=%s&email=ana%%40mired.org&password=ana-secret" % self.csrf(body),
                                    "/login", tls=False)
        self.assertEqual(st, 403)  # [auth] plaintext = no
        self.assertIn("HTTPS", body)
        self.assertNotIn("listd_session=", " ".join(h.get("set-cookie", [])))
        p = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-u", "ana@mired.org:ana-secret",
                            "http://127.0.0.1:%d/api/v1/lists" % self.port], capture_output=True, timeout=60)
        self.assertEqual(p.stdout.decode(), "401")

    def test_tls_listen_without_certificate_refuses_to_start(self):
        from listd_harness import free_port
        l = Listd(listeners={"http": "tls_listen = 127.0.0.1:%d\n" % free_port()})
        try:
            with self.assertRaises(AssertionError) as cm:
                l.start(attempts=1)
            self.assertIn("needs tls_cert and tls_key", str(cm.exception))
        finally:
            l.cleanup()


class PageCacheTest(unittest.TestCase):
    """The page cache on a real listd: anonymous archive pages come from it (the /metrics hit
    counter moves) until the database changes; a post archived by the pipeline shows at once;
    a private archive is never served from it; ETag and If-None-Match give 304."""
    LIST = "cached@lists.mired.org"

    @classmethod
    def setUpClass(cls):
        cls.l = Listd()
        cls.l.listctl("newlist", cls.LIST, "--owner", "ana@mired.org", "--password", "ana-secret", "--quiet",
                      check=True)
        cls.l.listctl("members", cls.LIST, "add", "ana@mired.org", check=True)
        cls.l.start()
        cls.port = cls.l.http_port
        wait_for(lambda: WebTest._up.__func__(cls), what="http listener")

    @classmethod
    def tearDownClass(cls):
        cls.l.cleanup()

    def post(self, n):
        """Inject post N (Date in November 2026) and wait until it is archived; its uid."""
        msg = ("From: Ana <ana@mired.org>\r\nTo: %s\r\nSubject: Cached post number %d\r\n"
               "Message-ID: <cached-%d@mired.org>\r\nDate: Sat, 28 Nov 2026 10:00:00 +0000\r\n\r\nHola %d.\r\n"
               % (self.LIST, n, n, n)).encode()
        self.l.listctl("inject", self.LIST, "--sender", "ana@mired.org", stdin=msg, check=True)
        return wait_for(lambda: self.l.sql("SELECT uid FROM archive WHERE message_id = ?", "cached-%d@mired.org" % n),
                        what="post %d archived" % n)[0][0]

    def hits(self):
        _, _, body = Client(self.port).get("/metrics")
        return int(re.search(r'listd_web_page_cache_lookups_total\{outcome="hit"\} (\d+)', body).group(1))

    def test_cache_follows_the_database_privacy_and_etags(self):
        month = "/lists/%s/archive/2026-11" % enc(self.LIST)
        uid1 = self.post(1)
        c = Client(self.port)
        st, h, body = c.get(month)
        self.assertEqual(st, 200)
        self.assertIn("Cached post number 1", body)
        # The same page again comes from the cache, for this visitor and a new one (once the
        # post's delivery has stopped writing to the database).
        def from_cache(client):
            before = self.hits()
            got = client.get(month)[2]
            return got if self.hits() > before else None
        self.assertEqual(wait_for(lambda: from_cache(c), what="a page cache hit"), body)
        self.assertEqual(wait_for(lambda: from_cache(Client(self.port)), what="a hit for another visitor"), body)
        # A post archived by the pipeline is on the page at once.
        self.post(2)
        st, _, body = c.get(month)
        self.assertEqual(st, 200)
        self.assertIn("Cached post number 2", body)
        self.assertIn("Cached post number 2", Client(self.port).get(month)[2])
        # Conditional GET: the tag gives 304 without a body (GET and HEAD); another tag, the page.
        st, h, body = c.get(month)
        tag = h["ETag"]
        self.assertTrue(tag.startswith('"'), tag)
        st, h2, body2 = c.get(month, headers={"If-None-Match": tag})
        self.assertEqual((st, body2, h2["ETag"]), (304, "", tag))
        self.assertEqual(c.request("HEAD", month, headers={"If-None-Match": 'W/"x", ' + tag})[0], 304)
        st, _, body3 = c.get(month, headers={"If-None-Match": '"something-else"'})
        self.assertEqual((st, body3), (200, body))
        # The archive turns private: anonymous visitors get 401, never the cached copy.
        msg = "/lists/%s/archive/msg/%d" % (enc(self.LIST), uid1)
        self.assertEqual(Client(self.port).get(msg)[0], 200)
        self.l.listctl("settings", self.LIST, "archive_public", "no", check=True)
        for path in (month, msg, "/lists/%s/archive" % enc(self.LIST)):
            st, _, body = Client(self.port).get(path)
            self.assertEqual(st, 401, path)
            self.assertNotIn("Cached post number", body)
            self.assertEqual(c.get(path, headers={"If-None-Match": tag})[0], 401, path)
        owner = Client(self.port)
        owner.login("ana@mired.org", "ana-secret")
        st, _, body = owner.get(month)
        self.assertEqual(st, 200)
        self.assertIn("Cached post number 2", body)
        self.assertEqual(Client(self.port).get(month)[0], 401)
        self.l.listctl("settings", self.LIST, "archive_public", "yes", check=True)
        self.assertEqual(Client(self.port).get(month)[0], 200)

if __name__ == "__main__":
    unittest.main()
