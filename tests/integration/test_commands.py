"""Email commands against a real listd, through the Postfix pipe intake (`listctl pipe`).

Subscribe by -join and confirm by replying (-confirm+TOKEN), subscribe/confirm through
-request lines, help, invalid/replayed/expired tokens, unsubscribe by -leave, `set nomail`,
`who` refused by default, and RFC 3834 loop safety for auto-replies.
"""
import email
import email.policy
import re
import smtplib
import time
import unittest

from listd_harness import Listd, read, wait_for


def mail(frm, to, subject, body="", extra=""):
    return ("From: %s\nTo: %s\nSubject: %s\nMessage-ID: <%s@example.org>\n%s\n%s" %
            (frm, to, subject, time.monotonic_ns(), extra, body)).encode()


class CommandsTest(unittest.TestCase):
    def setUp(self):
        self.l = Listd()
        self.l.demo()
        self.l.start()
        self.seen = set()

    def tearDown(self):
        self.l.cleanup()

    def send(self, local, frm, subject, body="", extra=""):
        """Over real SMTP into listd's receiver (the Postfix pipe path is tested elsewhere)."""
        with smtplib.SMTP("127.0.0.1", self.l.smtp_port, timeout=20) as s:
            msg = mail(frm, local + "@lists.mired.org", subject, body, extra).replace(b"\n", b"\r\n")
            refused = s.sendmail(frm, [local + "@lists.mired.org"], msg)
        self.assertEqual(refused, {})

    def next_mail(self, to, subject_part, timeout=20):
        """The next outbox message to `to` whose Subject contains subject_part."""
        def find():
            for path in self.l.outbox():
                if path in self.seen:
                    continue
                with open(path, "rb") as f:
                    msg = email.message_from_binary_file(f, policy=email.policy.default)
                if msg["Delivered-To"] == to and subject_part in str(msg["Subject"]):
                    self.seen.add(path)
                    return msg
            return None
        return wait_for(find, timeout=timeout, what="mail to %s about %r" % (to, subject_part))

    def members(self):
        return self.l.listctl("members", "mi_lista@lists.mired.org", "list").stdout.decode().split()

    def settle(self):
        wait_for(lambda: self.l.files("spool", "new") == [] and
                 self.l.sql("SELECT count(*) FROM delivery_jobs WHERE done = 0")[0][0] == 0, what="idle")

    def test_join_and_confirm_by_reply(self):
        self.send("mi_lista-join", "carol@example.org", "hi")
        confirm = self.next_mail("carol@example.org", "Confirm subscription")
        self.assertEqual(confirm["Auto-Submitted"], "auto-replied")
        reply_to = confirm["Reply-To"]
        m = re.match(r"mi_lista-confirm\+([0-9a-f]{32})@lists\.mired\.org", reply_to)
        self.assertTrue(m, reply_to)
        self.assertNotIn("carol@example.org", self.members())
        # The reply to the confirmation goes to its Reply-To, subject kept.
        self.send("mi_lista-confirm+" + m.group(1), "carol@example.org", "Re: " + str(confirm["Subject"]))
        self.next_mail("carol@example.org", "Welcome")
        self.assertIn("carol@example.org", self.members())
        # Replaying the same token does nothing but say so.
        self.send("mi_lista-confirm+" + m.group(1), "carol@example.org", "Re: again")
        bad = self.next_mail("carol@example.org", "results of your email command")
        self.assertIn("unknown, used or expired", bad.get_content())

    def test_request_subscribe_then_confirm_line_and_help(self):
        self.send("mi_lista-request", "dave@example.org", "subscribe")
        confirm = self.next_mail("dave@example.org", "Confirm subscription")
        token = re.search(r"confirm ([0-9a-f]{32})", confirm.get_content()).group(1)
        results = self.next_mail("dave@example.org", "results of your email commands")
        self.assertIn("confirmation request was sent", results.get_content())
        self.send("mi_lista-request", "dave@example.org", "whatever", "confirm %s\nhelp\nend\nthis is ignored\n" % token)
        self.next_mail("dave@example.org", "Welcome")
        res = self.next_mail("dave@example.org", "results of your email commands").get_content()
        self.assertIn("is now a member", res)
        self.assertIn("set digest on|off", res)  # the help text
        self.assertIn("dave@example.org", self.members())

    def test_expired_and_invalid_tokens(self):
        self.send("mi_lista-join", "erin@example.org", "join")
        confirm = self.next_mail("erin@example.org", "Confirm subscription")
        token = re.search(r"confirm ([0-9a-f]{32})", confirm.get_content()).group(1)
        self.l.sql("UPDATE pending_tokens SET expires = 0")  # as if 3 days had passed
        self.send("mi_lista-confirm+" + token, "erin@example.org", "Re: confirm")
        self.assertIn("unknown, used or expired",
                      self.next_mail("erin@example.org", "results of your email command").get_content())
        self.send("mi_lista-confirm+" + "0" * 32, "erin@example.org", "Re: confirm")
        self.next_mail("erin@example.org", "results of your email command")
        self.assertNotIn("erin@example.org", self.members())
        # Tokens are stored hashed only.
        self.assertEqual(self.l.sql("SELECT count(*) FROM pending_tokens WHERE token_hash = ?", token), [(0,)])

    def test_leave_with_confirmation_and_goodbye(self):
        self.send("mi_lista-leave", "bob@mired.org", "bye")
        confirm = self.next_mail("bob@mired.org", "Confirm unsubscription")
        token = re.search(r"confirm ([0-9a-f]{32})", confirm.get_content()).group(1)
        self.assertIn("bob@mired.org", self.members())
        self.send("mi_lista-request", "bob@mired.org", "Re: " + str(confirm["Subject"]))
        self.next_mail("bob@mired.org", "You have left")
        self.assertNotIn("bob@mired.org", self.members())
        self.assertNotIn(token, "")

    def test_set_nomail_needs_confirmation(self):
        self.send("mi_lista-request", "bob@mired.org", "set nomail on")
        confirm = self.next_mail("bob@mired.org", "Confirm: set nomail on")
        self.assertEqual(self.l.sql("SELECT nomail FROM memberships m JOIN people p ON p.id = m.person_id "
                                    "WHERE p.email = 'bob@mired.org' AND m.role = 'member'"), [(0,)])
        token = re.search(r"confirm ([0-9a-f]{32})", str(confirm["Subject"])).group(1)
        self.send("mi_lista-confirm+" + token, "bob@mired.org", "Re: ok")
        wait_for(lambda: self.l.sql("SELECT nomail FROM memberships m JOIN people p ON p.id = m.person_id "
                                    "WHERE p.email = 'bob@mired.org' AND m.role = 'member'") == [(1,)],
                 what="nomail set")

    def test_owner_invitation_is_confirmed_by_the_invitee(self):
        p = self.l.listctl("members", "mi_lista@lists.mired.org", "invite", "frank@example.org", check=True)
        self.assertIn(b"frank@example.org: invited", p.stdout)
        inv = self.next_mail("frank@example.org", "Invitation to join")
        token = re.search(r"confirm ([0-9a-f]{32})", str(inv["Subject"])).group(1)
        self.assertNotIn("frank@example.org", self.members())
        self.send("mi_lista-confirm+" + token, "frank@example.org", "Re: " + str(inv["Subject"]))
        self.next_mail("frank@example.org", "Welcome")
        self.assertIn("frank@example.org", self.members())

    def test_per_list_template_override_in_the_data_dir(self):
        import os
        d = os.path.join(self.l.data, "templates", "mi_lista@lists.mired.org", "mail")
        os.makedirs(d)
        with open(os.path.join(d, "help.txt.mustache"), "w") as f:
            f.write("Ayuda propia de {{list_address}}.\n")
        self.send("mi_lista-request", "bob@mired.org", "help")
        self.assertIn("Ayuda propia de mi_lista@lists.mired.org.",
                      self.next_mail("bob@mired.org", "results of your email commands").get_content())

    def test_who_refused_by_default_allowed_when_set(self):
        self.send("mi_lista-request", "bob@mired.org", "who")
        self.assertIn("not available by email",
                      self.next_mail("bob@mired.org", "results of your email commands").get_content())
        self.l.listctl("settings", "mi_lista@lists.mired.org", "roster", "members", check=True)
        self.send("mi_lista-request", "bob@mired.org", "who")
        res = self.next_mail("bob@mired.org", "results of your email commands").get_content()
        self.assertIn("ana@mired.org", res)

    def test_auto_replies_are_not_answered_nor_redistributed(self):
        before = len(self.l.outbox())
        self.send("mi_lista-request", "carol@example.org", "Out of office", "subscribe\n",
                  extra="Auto-Submitted: auto-replied\n")
        self.send("mi_lista-request", "mailer-daemon@example.org", "help")
        self.send("mi_lista", "ana@mired.org", "Out of office: Re: [mi_lista] Hola", "I am away.\n",
                  extra="Auto-Submitted: auto-replied\n")
        self.settle()
        # Only the moderators hear of the held auto-reply; nobody else gets anything.
        new = [read(p) for p in self.l.outbox()[before:]]
        self.assertEqual(len(new), 1)
        self.assertIn(b"Delivered-To: ana@mired.org", new[0])
        self.assertIn(b"requires approval", new[0])
        self.assertEqual(self.l.sql("SELECT outcome FROM processed ORDER BY processed_at"),
                         [("ignored",), ("ignored",), ("held",)])

    def test_confirmation_mails_to_one_address_are_rate_limited(self):
        for _ in range(5):
            self.send("mi_lista-join", "victim@example.org", "join")
        self.settle()
        confirms = 0
        for path in self.l.outbox():
            with open(path, "rb") as f:
                text = f.read()
            if b"Delivered-To: victim@example.org" in text and b"Confirm subscription" in text:
                confirms += 1
        self.assertEqual(confirms, 3)


if __name__ == "__main__":
    unittest.main()
