"""Integration tests of the core engine against a real listd and the real CLIs.

The four user steps of the core issue, end to end: the demo list, inject/pipe to the outbox
and the archive, newlist (both styles) / members / lists / rmlist, and the crash test:
kill -9 while 200 spooled messages are processed, restart, exactly 200 processed.
"""
import email
import email.policy
import os
import stat
import subprocess
import time
import unittest

from listd_harness import BIN, Listd, read, wait_for

POST = (b"From: Ana <ana@mired.org>\r\nTo: mi_lista@lists.mired.org\r\nSubject: Hola lista\r\n"
        b"Message-ID: <hola-1@mired.org>\r\nDate: Sat, 28 Nov 2026 10:00:00 +0000\r\n\r\nHola a todos.\r\n")


class CoreTest(unittest.TestCase):
    def setUp(self):
        self.l = Listd()
        self.l.demo()

    def tearDown(self):
        self.l.cleanup()

    def test_inject_reaches_every_member_decorated_and_the_archive(self):
        self.l.start()
        p = self.l.listctl("inject", "mi_lista@lists.mired.org", "--sender", "ana@mired.org", stdin=POST)
        self.assertEqual(p.returncode, 0, p.stderr)
        files = wait_for(lambda: len(self.l.outbox()) == 2 and self.l.outbox(), what="2 outbox files")
        rcpts = set()
        for path in files:
            with open(path, "rb") as f:
                msg = email.message_from_binary_file(f, policy=email.policy.default)
            self.assertEqual(msg["Return-Path"], "<mi_lista-bounces@lists.mired.org>")
            rcpts.add(msg["Delivered-To"])
            self.assertEqual(msg["Subject"], "[mi_lista] Hola lista")
            self.assertEqual(msg["List-Id"], "<mi_lista.lists.mired.org>")
            self.assertEqual(msg["List-Post"], "<mailto:mi_lista@lists.mired.org>")
            self.assertIn("mailto:mi_lista-leave@lists.mired.org", msg["List-Unsubscribe"])
            self.assertEqual(msg["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click")
            self.assertEqual(msg["Precedence"], "list")
            body = msg.get_content()
            self.assertIn("Hola a todos.", body)
            self.assertIn("mi_lista mailing list -- mi_lista@lists.mired.org", body)
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        self.assertEqual(rcpts, {"ana@mired.org", "bob@mired.org"})
        archived = wait_for(lambda: self.l.archive(), what="archive file")
        self.assertEqual(len(archived), 1)
        with open(archived[0], "rb") as f:
            arch = f.read()
        self.assertIn(b"Subject: [mi_lista] Hola lista", arch)
        self.assertNotIn(b"To unsubscribe send an email", arch)  # footer only in delivered copies
        self.assertEqual(self.l.sql("SELECT uid, message_id, subject FROM archive"),
                         [(1, "hola-1@mired.org", "[mi_lista] Hola lista")])
        for d in ("", "spool", "archive", "outbox"):
            self.assertEqual(stat.S_IMODE(os.stat(os.path.join(self.l.data, d)).st_mode), 0o700, d)
        self.assertIn("ev=accepted", self.l.log())
        q = self.l.listctl("queue", "--all")
        self.assertEqual(q.returncode, 0)
        self.assertIn("mi_lista@lists.mired.org", q.stdout.decode())

    def test_pipe_exit_codes_for_postfix(self):
        self.l.start()
        ok = self.l.listctl("pipe", "lists.mired.org", "mi_lista", "--sender", "ana@mired.org", stdin=POST)
        self.assertEqual(ok.returncode, 0, ok.stderr)
        unknown = self.l.listctl("pipe", "lists.mired.org", "nosuch", stdin=POST)
        self.assertEqual(unknown.returncode, 67)
        self.assertIn(b"5.1.1", unknown.stderr)
        empty = self.l.listctl("pipe", "lists.mired.org", "mi_lista", stdin=b"")
        self.assertEqual(empty.returncode, 65)
        headerless = self.l.listctl("pipe", "lists.mired.org", "mi_lista", stdin=b"just some text\nno header\n")
        self.assertEqual(headerless.returncode, 65)
        nul = self.l.listctl("pipe", "lists.mired.org", "mi_lista", stdin=b"Subject: a\0b\n\nbody\n")
        self.assertEqual(nul.returncode, 65)
        self.assertIn(b"5.6.0", nul.stderr)
        bounce = self.l.listctl("pipe", "lists.mired.org", "mi_lista-bounces", stdin=b"Subject: bounce\n\nx\n")
        self.assertEqual(bounce.returncode, 0)
        wait_for(lambda: len(self.l.outbox()) == 2, what="post delivered")
        wait_for(lambda: self.l.sql("SELECT role FROM role_queue") == [("bounces",)], what="bounce queued")
        self.assertEqual(len(self.l.files("spool", "new")), 0)

    def test_50mb_body_refused_cleanly_nothing_spooled(self):
        big = b"Subject: big\n\n" + (b"x" * 999 + b"\n") * (50 * 1024)
        p = self.l.listctl("inject", "mi_lista@lists.mired.org", stdin=big)
        self.assertEqual(p.returncode, 65)
        self.assertIn(b"5.3.4", p.stderr)
        self.assertEqual(self.l.files("spool", "new"), [])
        self.assertEqual(self.l.files("spool", "tmp"), [])

    def test_binary_garbage_and_8bit_headers_have_a_defined_outcome(self):
        self.l.start()
        garbage = bytes((i * 131) & 0xFF for i in range(8192))
        bad_headers = b"From: \xff\xfe@x\nSubject: \x80\x81 8-bit\n\nbody\n"
        for m in (b"X-Junk: " + garbage, bad_headers):
            p = self.l.listctl("inject", "mi_lista@lists.mired.org", "--sender", "ana@mired.org", stdin=m)
            self.assertIn(p.returncode, (0, 65), p.stderr)
        wait_for(lambda: self.l.files("spool", "new") == [], what="spool drained")
        self.assertTrue(self.l.proc.poll() is None, "listd died:\n" + self.l.log())
        outcomes = self.l.sql("SELECT outcome FROM processed")
        for (o,) in outcomes:
            self.assertIn(o, ("accepted", "held"))

    def test_nonmember_post_is_held(self):
        self.l.start()
        msg = b"From: eve@example.org\nSubject: hi\n\nhello\n"
        self.l.listctl("inject", "mi_lista@lists.mired.org", "--sender", "eve@example.org", stdin=msg, check=True)
        wait_for(lambda: self.l.sql("SELECT count(*) FROM held_messages")[0][0] == 1, what="held")
        h = self.l.listctl("held", "mi_lista@lists.mired.org")
        self.assertIn(b"eve@example.org", h.stdout)
        notice = wait_for(lambda: self.l.outbox(), what="held notice to the owner")
        self.assertIn(b"requires approval", read(notice[0]))
        # The owners' daily summary goes out at the next maintenance pass (start, then ticks),
        # and only once a day.
        for _ in range(2):
            self.l.stop()
            self.l.start()
        def summaries():
            return [p for p in self.l.outbox() if b"request(s) waiting for" in read(p)]
        files = wait_for(summaries, what="owner summary")
        time.sleep(0.5)
        self.assertEqual(len(summaries()), 1)
        with open(files[0], "rb") as f:
            text = f.read()
        self.assertIn(b"Delivered-To: ana@mired.org", text)
        self.assertIn(b"1 held post(s) waiting for moderation", text)
        self.assertIn(b"held: from eve@example.org", text)

    def test_sighup_reloads_templates_and_sigterm_stops(self):
        tdir = os.path.join(self.l.root, "templates", "mail")
        os.makedirs(tdir)
        with open(self.l.config, "a") as f:
            pass
        # templates_dir must be a global key: rewrite the config with it at the top.
        with open(self.l.config) as f:
            text = f.read()
        with open(self.l.config, "w") as f:
            f.write("templates_dir = %s\n" % os.path.join(self.l.root, "templates") + text)
        self.l.start()
        with open(os.path.join(tdir, "footer.txt.mustache"), "w") as f:
            f.write("-- custom footer for {{list_address}} --\n")
        self.l.proc.send_signal(1)  # SIGHUP
        wait_for(lambda: "ev=templates-reloaded overrides=1" in self.l.log(), what="reload logged")
        self.l.listctl("inject", "mi_lista@lists.mired.org", "--sender", "bob@mired.org", stdin=POST, check=True)
        files = wait_for(lambda: len(self.l.outbox()) == 2 and self.l.outbox(), what="delivery")
        with open(files[0], "rb") as f:
            self.assertIn(b"-- custom footer for mi_lista@lists.mired.org --", f.read())
        self.assertEqual(self.l.stop(), 0)
        self.assertIn("ev=stopped", self.l.log())


class KeepDeliveredTest(unittest.TestCase):
    """[relay] keep_delivered: the daemon deletes a finished job's delivered-recipient rows
    once they are that old; the job's counts (listctl queue --all) stay."""

    def tearDown(self):
        self.l.cleanup()

    def post(self, n):
        msg = POST.replace(b"hola-1@", b"keep-%d@" % n)
        p = self.l.listctl("inject", "mi_lista@lists.mired.org", "--sender", "ana@mired.org", stdin=msg)
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_zero_purges_rows_after_the_job_is_done_counts_stay(self):
        self.l = Listd("keep_delivered = 0\n")
        self.l.demo()
        self.l.start()
        self.post(1)
        wait_for(lambda: self.l.sql("SELECT done, purged FROM delivery_jobs") == [(1, 1)], what="job done and purged")
        self.assertEqual(self.l.sql("SELECT count(*) FROM delivery_recipients"), [(0,)])
        self.assertEqual(len(self.l.outbox()), 2)
        row = [line.split() for line in self.l.listctl("queue", "--all", check=True).stdout.decode().splitlines()][1]
        self.assertEqual(row[1:7], ["mi_lista@lists.mired.org", "post", "2", "2", "0", "0"])  # total, delivered

    def test_default_keeps_a_fresh_jobs_rows(self):
        self.l = Listd()
        self.l.demo()
        self.l.start()
        self.post(2)
        wait_for(lambda: self.l.sql("SELECT done FROM delivery_jobs") == [(1,)], what="job done")
        self.l.stop()  # a pass after the job finished has run (the job is marked done in it)
        self.assertEqual(self.l.sql("SELECT state, count(*) FROM delivery_recipients GROUP BY state"),
                         [("delivered", 2)])
        self.assertEqual(self.l.sql("SELECT purged FROM delivery_jobs"), [(0,)])


class CliTest(unittest.TestCase):
    def setUp(self):
        self.l = Listd()

    def tearDown(self):
        self.l.cleanup()

    def test_newlist_mailman_style_members_lists_rmlist(self):
        newlist = os.path.join(BIN, "newlist")
        self.assertTrue(os.path.islink(newlist) or os.path.exists(newlist))
        p = self.l.run("newlist", "-q", "dev", "ana@mired.org", "secret")
        self.assertEqual(p.returncode, 0, p.stderr)
        out = p.stdout.decode()
        self.assertIn("dev@lists.mired.org", out)
        self.assertIn("lists.mired.org    listd:", out)
        self.assertIn("pipe ${nexthop} ${user}", out)
        hash_ = self.l.sql("SELECT password_hash FROM people WHERE email = 'ana@mired.org'")[0][0]
        self.assertTrue(hash_.startswith("$argon2id$"))
        self.l.listctl("newlist", "ops@lists.mired.org", "--owner", "bob@mired.org", "--quiet", check=True)
        self.l.listctl("members", "dev@lists.mired.org", "add", "bob@mired.org", check=True)
        m = self.l.listctl("members", "dev@lists.mired.org", "list", check=True)
        self.assertEqual(m.stdout.decode().split(), ["bob@mired.org"])
        lists = self.l.listctl("lists", check=True).stdout.decode()
        self.assertIn("dev@lists.mired.org\tmembers=1", lists)
        self.assertIn("ops@lists.mired.org\tmembers=0", lists)
        rm = self.l.listctl("rmlist", "dev@lists.mired.org", "--archives")
        self.assertEqual(rm.returncode, 0)
        self.assertNotIn("dev@", self.l.listctl("lists").stdout.decode())
        self.assertEqual(self.l.listctl("rmlist", "dev@lists.mired.org").returncode, 67)

    def test_newlist_without_quiet_mails_the_owner(self):
        self.l.listctl("newlist", "dev@lists.mired.org", "--owner", "ana@mired.org", check=True)
        self.l.start()
        files = wait_for(lambda: self.l.outbox(), what="owner notice")
        with open(files[0], "rb") as f:
            text = f.read()
        self.assertIn(b"Delivered-To: ana@mired.org", text)
        self.assertIn(b"Subject: Your new mailing list: dev", text)

    def test_bad_list_names_and_owners(self):
        for bad in ("../evil@lists.mired.org", "mi lista@lists.mired.org", "MiLista@lists.mired.org",
                    "x-request@lists.mired.org", "nohost"):
            p = self.l.listctl("newlist", bad, "--owner", "ana@mired.org", "--quiet")
            self.assertEqual(p.returncode, 65, (bad, p.stderr))
            self.assertIn(b"invalid", p.stderr.lower() + p.stdout.lower())
        p = self.l.listctl("newlist", "ok@lists.mired.org", "--owner", "not an address", "--quiet")
        self.assertEqual(p.returncode, 65)
        self.assertFalse(os.path.exists(os.path.join(self.l.data, "archive", "..", "..", "evil")))

    def test_members_file_with_bad_address_adds_nothing(self):
        self.l.demo()
        path = os.path.join(self.l.root, "members.txt")
        with open(path, "w") as f:
            f.write("# comment\ncarol@example.org\nDave <dave@example.org>\n\nnot-an-address\n")
        p = self.l.listctl("members", "mi_lista@lists.mired.org", "add", "--file", path)
        self.assertEqual(p.returncode, 65)
        self.assertIn(b"not-an-address", p.stderr)
        self.assertEqual(self.l.sql("SELECT count(*) FROM memberships WHERE role = 'member'")[0][0], 2)
        with open(path, "w") as f:
            f.write("carol@example.org\nDave <dave@example.org>\n")
        p = self.l.listctl("members", "mi_lista@lists.mired.org", "add", "--file", path, check=True)
        self.assertIn(b"added 2", p.stdout)

    def test_config_check_reports_file_line_key(self):
        bad = os.path.join(self.l.root, "bad.conf")
        with open(bad, "w") as f:
            f.write("hostname = lists.mired.org\n[relay]\nmode = carrier-pigeon\n")
        p = self.l.run("listd", "--config", bad, "--check")
        self.assertEqual(p.returncode, 78)
        self.assertIn(("%s:3: key 'relay.mode'" % bad).encode(), p.stderr)
        good = self.l.run("listd", "--config", self.l.config, "--check")
        self.assertEqual(good.returncode, 0, good.stderr)

    def test_refuses_world_writable_or_unreadable_data_dir(self):
        os.makedirs(self.l.data)
        os.chmod(self.l.data, 0o777)
        p = subprocess.run([os.path.join(BIN, "listd"), "--config", self.l.config], capture_output=True, timeout=20)
        self.assertEqual(p.returncode, 78)
        self.assertIn(b"world-writable", p.stderr)
        os.chmod(self.l.data, 0o700)
        # A data dir that is a file, not a folder.
        os.rmdir(self.l.data)
        open(self.l.data, "w").close()
        p = subprocess.run([os.path.join(BIN, "listd"), "--config", self.l.config], capture_output=True, timeout=20)
        self.assertEqual(p.returncode, 78)
        self.assertIn(b"not a directory", p.stderr)


class CrashTest(unittest.TestCase):
    def setUp(self):
        self.l = Listd()
        self.l.demo()

    def tearDown(self):
        self.l.cleanup()

    def test_kill9_during_200_messages_then_restart_processes_each_exactly_once(self):
        n = 200
        for i in range(n):
            msg = (b"From: ana@mired.org\nSubject: crash %d\nMessage-ID: <crash-%d@mired.org>\n\nbody %d\n" % (i, i, i))
            self.l.listctl("inject", "mi_lista@lists.mired.org", "--sender", "ana@mired.org", stdin=msg, check=True)
        self.assertEqual(len(self.l.files("spool", "new")), n)
        self.l.start()
        # Kill it in the middle of the work.
        wait_for(lambda: len(self.l.archive()) >= 20, timeout=60, interval=0.005, what="some progress")
        self.l.kill9()
        done_before = self.l.sql("SELECT count(*) FROM processed")[0][0]
        self.assertLess(done_before, n, "finished before the kill: the test proves nothing")
        self.l.start()
        wait_for(lambda: self.l.sql("SELECT count(*) FROM processed")[0][0] == n and
                 self.l.sql("SELECT count(*) FROM delivery_jobs WHERE done = 0")[0][0] == 0,
                 timeout=120, what="all processed and delivered")
        self.assertEqual(self.l.sql("SELECT count(*), count(DISTINCT message_id) FROM archive"), [(n, n)])
        self.assertEqual(self.l.sql("SELECT count(*) FROM processed WHERE outcome = 'accepted'"), [(n,)])
        self.assertEqual(len(self.l.archive()), n)
        outbox = self.l.outbox()
        self.assertEqual(len(outbox), 2 * n)
        seen = {}
        for path in outbox:
            with open(path, "rb") as f:
                msg = email.message_from_binary_file(f)
            key = (msg["Delivered-To"], msg["Message-ID"])
            self.assertNotIn(key, seen, "duplicate delivery")
            seen[key] = path
        self.assertEqual(self.l.files("spool", "new"), [])


if __name__ == "__main__":
    unittest.main()
