"""Moderation by email against a real listd: held-post notices to moderators with a token,
approve / reject / discard by replying, refusal of other people's replies, and the Approved:
header (password of an owner or moderator), which never reaches the archive or the members.
"""
import email
import email.policy
import re
import smtplib
import time
import unittest

from listd_harness import Listd, read, wait_for

LIST = "mi_lista@lists.mired.org"


class ModerationTest(unittest.TestCase):
    def setUp(self):
        self.l = Listd()
        self.l.demo()
        self.l.listctl("passwd", "ana@mired.org", "--password", "ana-mod-secret", check=True)
        self.l.start()
        self.seen = set()

    def tearDown(self):
        self.l.cleanup()

    def pipe(self, local, frm, subject, body="", extra=""):
        msg = ("From: %s\nTo: %s@lists.mired.org\nSubject: %s\nMessage-ID: <%d@example.org>\n%s\n%s" %
               (frm, local, subject, time.monotonic_ns(), extra, body)).encode()
        with smtplib.SMTP("127.0.0.1", self.l.smtp_port, timeout=20) as s:
            self.assertEqual(s.sendmail(frm, [local + "@lists.mired.org"], msg.replace(b"\n", b"\r\n")), {})

    def next_mail(self, to, subject_part):
        def find():
            for path in self.l.outbox():
                if path in self.seen:
                    continue
                with open(path, "rb") as f:
                    m = email.message_from_binary_file(f, policy=email.policy.default)
                if m["Delivered-To"] == to and subject_part in str(m["Subject"]):
                    self.seen.add(path)
                    return m
            return None
        return wait_for(find, what="mail to %s about %r" % (to, subject_part))

    def held_count(self):
        return self.l.sql("SELECT count(*) FROM held_messages")[0][0]

    def hold_one(self, subject):
        self.pipe("mi_lista", "eve@example.org", subject, "Hello from outside.\n")
        notice = self.next_mail("ana@mired.org", "requires approval")
        self.assertIn(subject, notice.get_content())
        m = re.match(r"mi_lista-confirm\+([0-9a-f]{32})@", notice["Reply-To"])
        self.assertTrue(m, notice["Reply-To"])
        return m.group(1), notice

    def test_approve_by_reply(self):
        token, notice = self.hold_one("Propuesta")
        self.pipe("mi_lista-confirm+" + token, "ana@mired.org", "Re: " + str(notice["Subject"]), "approve\n")
        post = self.next_mail("bob@mired.org", "[mi_lista] Propuesta")
        self.assertIn("Hello from outside.", post.get_content())
        wait_for(lambda: self.held_count() == 0, what="held row removed")

    def test_plain_reply_discards_and_reject_tells_the_sender(self):
        token, notice = self.hold_one("Spam 1")
        self.pipe("mi_lista-confirm+" + token, "ana@mired.org", "Re: " + str(notice["Subject"]), "> quoted\n")
        wait_for(lambda: self.held_count() == 0, what="discarded")
        token, notice = self.hold_one("Spam 2")
        self.pipe("mi_lista-confirm+" + token, "ana@mired.org", "reject off topic here", "")
        rejected = self.next_mail("eve@example.org", "was rejected")
        self.assertIn("off topic here", rejected.get_content())
        wait_for(lambda: self.held_count() == 0, what="rejected")
        time.sleep(0.5)
        self.assertFalse([p for p in self.l.outbox() if b"[mi_lista] Spam" in read(p)])

    def test_defer_keeps_it_and_others_cannot_use_the_token(self):
        token, notice = self.hold_one("Pendiente")
        self.pipe("mi_lista-confirm+" + token, "ana@mired.org", "defer")
        self.pipe("mi_lista-confirm+" + token, "bob@mired.org", "approve")  # bob is no moderator
        wait_for(lambda: self.l.files("spool", "new") == [], what="replies processed")
        time.sleep(0.3)
        self.assertEqual(self.held_count(), 1)
        self.assertIn("ev=moderation-refused", self.l.log())
        # The token still works for ana after the defer.
        self.pipe("mi_lista-confirm+" + token, "ana@mired.org", "approve")
        self.next_mail("bob@mired.org", "[mi_lista] Pendiente")

    def test_approved_header_with_a_moderator_password(self):
        self.pipe("mi_lista", "eve@example.org", "Aprobado", "Body text.\n", extra="Approved: ana-mod-secret\n")
        post = self.next_mail("bob@mired.org", "[mi_lista] Aprobado")
        raw = post.as_bytes()
        self.assertNotIn(b"ana-mod-secret", raw)
        self.assertIsNone(post["Approved"])
        archived = wait_for(lambda: self.l.archive(), what="archived")
        for path in archived:
            self.assertNotIn(b"ana-mod-secret", read(path))
        # A wrong password holds the post, and the held copy keeps no password either.
        self.pipe("mi_lista", "eve@example.org", "Intento", "x\n", extra="Approved: guess\n")
        wait_for(lambda: self.held_count() == 1, what="held")
        for path in self.l.files("held"):
            self.assertNotIn(b"Approved:", read(path))


if __name__ == "__main__":
    unittest.main()
