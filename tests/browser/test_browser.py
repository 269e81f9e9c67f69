"""Browser test of the web admin: a real listd, Debian's chromium driven by playwright-core.

Installs playwright-core into tests/browser/node_modules with npm when it is missing, sets up
a list with an archived post and a held one, runs browser.mjs, then checks the database:
the new list exists, the members were added, the held post was approved into the archive,
and the public subscribe form sent a confirmation. Screenshots go to a temporary folder, or
to $LISTD_SCREENSHOTS (e.g. docs/screenshots) when set. Skipped when chromium or node is absent.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from listd_harness import Listd, wait_for  # noqa: E402

LIST = "mi_lista@lists.mired.org"
WELCOME = ("From: Ana <ana@mired.org>\nTo: %s\nSubject: Bienvenidos al curso\nMessage-ID: <w1@mired.org>\n"
           "Date: Sat, 28 Nov 2026 10:00:00 +0000\n\nHola a todos, bienvenidos.\n" % LIST).encode()
REPLY = ("From: Bob <bob@mired.org>\nTo: %s\nSubject: Re: Bienvenidos al curso\nMessage-ID: <w2@mired.org>\n"
         "In-Reply-To: <w1@mired.org>\nDate: Sat, 28 Nov 2026 11:00:00 +0000\n\nGracias!\n" % LIST).encode()
HELD = ("From: Zoe <zoe@example.org>\nTo: %s\nSubject: <b>Question</b> about the course\n"
        "Message-ID: <q1@example.org>\nDate: Sat, 28 Nov 2026 12:00:00 +0000\n\n"
        "Is there homework? <script>alert(1)</script>\n" % LIST).encode()


@unittest.skipUnless(shutil.which("node") and os.path.exists("/usr/bin/chromium"), "node or chromium missing")
class BrowserTest(unittest.TestCase):
    def setUp(self):
        if not os.path.isdir(os.path.join(HERE, "node_modules", "playwright-core")):
            subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent"], cwd=HERE, check=True,
                           timeout=300)
        self.l = Listd()
        l = self.l
        l.listctl("newlist", LIST, "--owner", "ana@mired.org", "--password", "ana-secret", "--quiet", check=True)
        l.listctl("members", LIST, "add", "ana@mired.org", "bob@mired.org", check=True)
        l.listctl("admin", "add", "root@mired.org", "--password", "root-secret", check=True)
        l.listctl("settings", LIST, "description", "Curso de español para principiantes", check=True)
        l.start()
        for msg, sender in ((WELCOME, "ana@mired.org"), (REPLY, "bob@mired.org"), (HELD, "zoe@example.org")):
            l.listctl("inject", LIST, "--sender", sender, stdin=msg, check=True)
        wait_for(lambda: len(l.sql("SELECT 1 FROM archive")) == 2 and l.sql("SELECT 1 FROM held_messages"),
                 what="2 archived + 1 held")
        self.shots = os.environ.get("LISTD_SCREENSHOTS") or tempfile.mkdtemp(prefix="listd-shots-")
        os.makedirs(self.shots, exist_ok=True)

    def tearDown(self):
        self.l.cleanup()
        if not os.environ.get("LISTD_SCREENSHOTS"):
            shutil.rmtree(self.shots, ignore_errors=True)

    def test_owner_admin_and_visitor_in_chromium(self):
        env = dict(os.environ, LISTD_URL="http://127.0.0.1:%d" % self.l.http_port, SHOTS=self.shots)
        p = subprocess.run(["node", os.path.join(HERE, "browser.mjs")], env=env, capture_output=True, timeout=240)
        self.assertEqual(p.returncode, 0, p.stdout.decode() + p.stderr.decode())
        l = self.l
        self.assertEqual(l.sql("SELECT count(*) FROM lists WHERE name = 'curso'"), [(1,)])
        self.assertEqual(l.sql("SELECT count(*) FROM memberships m JOIN people p ON p.id = m.person_id "
                               "WHERE p.email IN ('carmen@mired.org', 'diego@mired.org', 'elena@mired.org')"), [(3,)])
        self.assertEqual(l.sql("SELECT count(*) FROM held_messages"), [(0,)])
        wait_for(lambda: l.sql("SELECT 1 FROM archive WHERE message_id = 'q1@example.org'"), what="approved post")
        self.assertEqual(l.sql("SELECT count(*) FROM pending_tokens WHERE address = 'fran@mired.org'"), [(1,)])
        self.assertTrue(os.path.exists(os.path.join(self.shots, "list-page.png")))


if __name__ == "__main__":
    unittest.main()
