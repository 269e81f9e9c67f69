"""Digests against a real listd: digest members get no single posts, then one MIME digest
(RFC 2046 multipart/digest) and one plain digest (RFC 1153), parsed back with python's email
package; and the size threshold sending a digest by itself.
"""
import email
import email.policy
import unittest

from listd_harness import Listd, wait_for


class DigestTest(unittest.TestCase):
    def setUp(self):
        self.l = Listd()
        self.l.demo()
        self.l.listctl("members", "mi_lista@lists.mired.org", "add", "carol@example.org", "--delivery", "digest_mime",
                       check=True)
        self.l.listctl("members", "mi_lista@lists.mired.org", "add", "dave@example.org", "--delivery", "digest_plain",
                       check=True)

    def tearDown(self):
        self.l.cleanup()

    def post(self, n):
        msg = ("From: Ana <ana@mired.org>\nSubject: Tema %d\nMessage-ID: <d%d@mired.org>\n"
               "Date: Sat, 28 Nov 2026 10:0%d:00 +0000\n\nTexto del mensaje %d.\n" % (n, n, n, n)).encode()
        self.l.listctl("inject", "mi_lista@lists.mired.org", "--sender", "ana@mired.org", stdin=msg, check=True)

    def mail_to(self, who):
        out = []
        for path in self.l.outbox():
            with open(path, "rb") as f:
                m = email.message_from_binary_file(f, policy=email.policy.default)
            if m["Delivered-To"] == who:
                out.append(m)
        return out

    def test_three_posts_in_both_flavours(self):
        self.l.start()
        for n in (1, 2, 3):
            self.post(n)
        wait_for(lambda: len(self.mail_to("bob@mired.org")) == 3, what="regular delivery")
        self.assertEqual(self.mail_to("carol@example.org"), [])
        self.assertEqual(self.mail_to("dave@example.org"), [])
        p = self.l.listctl("digest", "mi_lista@lists.mired.org", "--send", check=True)
        self.assertIn(b"3 post(s)", p.stdout)
        mime = wait_for(lambda: self.mail_to("carol@example.org"), what="MIME digest")[0]
        self.assertEqual(mime["Subject"], "mi_lista Digest, Vol 1, Issue 1")
        self.assertEqual(mime.get_content_type(), "multipart/mixed")
        parts = list(mime.iter_parts())
        self.assertIn("Today's Topics", parts[0].get_content())
        self.assertIn("1. Tema 1 (Ana <ana@mired.org>)", parts[0].get_content())  # TOC without the prefix, as Mailman
        digest = parts[1]
        self.assertEqual(digest.get_content_type(), "multipart/digest")
        posts = [p.get_content() for p in digest.iter_parts()]
        self.assertEqual([p["Subject"] for p in posts], ["[mi_lista] Tema 1", "[mi_lista] Tema 2", "[mi_lista] Tema 3"])
        self.assertIn("Texto del mensaje 2.", posts[1].get_content())
        plain = wait_for(lambda: self.mail_to("dave@example.org"), what="plain digest")[0]
        self.assertEqual(plain.get_content_type(), "text/plain")
        body = plain.get_content()
        self.assertIn("   3. Tema 3 (Ana <ana@mired.org>)", body)
        self.assertEqual(body.count("\n------------------------------\n"), 3)
        self.assertIn("Subject: Tema 2\n\nTexto del mensaje 2.", body)
        self.assertIn("End of mi_lista Digest, Vol 1, Issue 1\n", body)
        # The next digest is issue 2.
        self.post(4)
        wait_for(lambda: len(self.mail_to("bob@mired.org")) == 4, what="post 4")
        self.l.listctl("digest", "mi_lista@lists.mired.org", "--send", check=True)
        wait_for(lambda: len(self.mail_to("carol@example.org")) == 2, what="second digest")
        subjects = sorted(m["Subject"] for m in self.mail_to("carol@example.org"))
        self.assertEqual(subjects[1], "mi_lista Digest, Vol 1, Issue 2")

    def test_period_elapsed_sends_at_maintenance(self):
        self.l.start()
        self.post(1)
        wait_for(lambda: len(self.mail_to("bob@mired.org")) == 1, what="post")
        self.assertEqual(self.mail_to("carol@example.org"), [])
        self.l.sql("UPDATE digest_items SET added = added - 86400")  # a day has passed
        self.l.stop()
        self.l.start()  # maintenance runs at start and on every tick
        wait_for(lambda: self.mail_to("carol@example.org"), what="daily digest")

    def test_size_threshold_sends_by_itself(self):
        self.l.listctl("settings", "mi_lista@lists.mired.org", "digest_size_threshold", "1", check=True)
        self.l.start()
        self.post(1)
        self.post(2)
        wait_for(lambda: self.mail_to("carol@example.org"), what="digest at the size threshold")
        self.assertIn("ev=digest-sent", self.l.log())


if __name__ == "__main__":
    unittest.main()
