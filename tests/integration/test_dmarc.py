"""DMARC mitigation against a real listd, with a dnsmasq on loopback serving _dmarc TXT
records: p=reject munges From (original in Reply-To), wrap_message wraps, no record or
p=none leaves the post alone, and the archive always keeps the From as written.
"""
import email
import email.policy
import os
import shutil
import socket
import subprocess
import time
import unittest

from listd_harness import Listd, read, wait_for

LIST = "mi_lista@lists.mired.org"


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@unittest.skipUnless(shutil.which("dnsmasq"), "dnsmasq not installed (scripts/install-deps --test)")
class DmarcTest(unittest.TestCase):
    def setUp(self):
        self.dns_port = free_udp_port()
        self.dns = subprocess.Popen(
            ["dnsmasq", "--no-daemon", "--no-resolv", "--no-hosts", "--bind-interfaces", "--listen-address=127.0.0.1",
             "--port=%d" % self.dns_port, "--user=" + ("root" if os.geteuid() == 0 else ""),
             "--txt-record=_dmarc.strict.test,v=DMARC1; p=reject; rua=mailto:d@strict.test",
             "--txt-record=_dmarc.relaxed.test,v=DMARC1; p=none",
             "--txt-record=_dmarc.parent.test,v=DMARC1; p=none; sp=quarantine",
             "--local=/test/"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(0.3)
        if self.dns.poll() is not None:
            self.fail("dnsmasq did not start: " + self.dns.stderr.read().decode())
        self.l = Listd("resolver = 127.0.0.1:%d\n" % self.dns_port)
        self.l.demo()
        self.l.listctl("members", LIST, "add", "ana@strict.test", "eva@relaxed.test", "sub@mail.parent.test",
                       check=True)

    def tearDown(self):
        self.l.cleanup()
        self.dns.terminate()
        self.dns.wait(5)
        self.dns.stderr.close()

    def post(self, frm, name, subject):
        msg = ("From: %s <%s>\nSubject: %s\nMessage-ID: <%s@x>\n\nHola.\n" % (name, frm, subject, subject)).encode()
        self.l.listctl("inject", LIST, "--sender", frm, stdin=msg, check=True)

    def copy_to_bob(self, subject):
        def find():
            for path in self.l.outbox():
                with open(path, "rb") as f:
                    m = email.message_from_binary_file(f, policy=email.policy.default)
                if m["Delivered-To"] == "bob@mired.org" and subject in str(m["Subject"]):
                    return m
            return None
        return wait_for(find, what="copy of %r" % subject)

    def test_policies(self):
        self.l.start()
        self.post("ana@strict.test", "Ana", "reject-policy")
        m = self.copy_to_bob("reject-policy")
        self.assertEqual(m["From"].addresses[0].addr_spec, LIST)
        self.assertEqual(m["From"].addresses[0].display_name, "Ana via mi_lista")
        self.assertIn("ana@strict.test", str(m["Reply-To"]))
        self.post("eva@relaxed.test", "Eva", "none-policy")
        self.assertEqual(self.copy_to_bob("none-policy")["From"].addresses[0].addr_spec, "eva@relaxed.test")
        self.post("sub@mail.parent.test", "Sub", "org-domain")
        self.assertEqual(self.copy_to_bob("org-domain")["From"].addresses[0].addr_spec, LIST)  # sp=quarantine
        self.post("bob@mired.org", "Bob", "no-record")
        self.assertEqual(self.copy_to_bob("no-record")["From"].addresses[0].addr_spec, "bob@mired.org")
        # The archive keeps what the poster wrote.
        archived = b"".join(read(p) for p in self.l.archive())
        self.assertIn(b"From: Ana <ana@strict.test>", archived)
        self.assertIn("policy=reject", self.l.log())

    def test_wrap_message(self):
        self.l.listctl("settings", LIST, "dmarc_mitigation", "wrap_message", check=True)
        self.l.start()
        self.post("ana@strict.test", "Ana", "wrapped")
        m = self.copy_to_bob("wrapped")
        self.assertEqual(m["From"].addresses[0].addr_spec, LIST)
        inner = [p for p in m.iter_parts() if p.get_content_type() == "message/rfc822"]
        self.assertEqual(len(inner), 1)
        self.assertEqual(inner[0].get_content()["From"].addresses[0].addr_spec, "ana@strict.test")


if __name__ == "__main__":
    unittest.main()
