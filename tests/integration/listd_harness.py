"""listd_harness - start a real listd on a temporary data dir and drive the CLIs.

Used by the integration tests (python3 unittest, run by ctest). Every process and file a
test makes is cleaned up in stop()/cleanup(). Binaries come from $LISTD_BIN (build/bin).
"""
import os
import random
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time

BIN = os.environ.get("LISTD_BIN", os.path.join(os.path.dirname(__file__), "..", "..", "build", "bin"))
# LISTD_WRAPPER: a command line that prefixes every listd the harness starts (opt-in; empty by
# default), e.g. "valgrind --error-exitcode=99 --log-file=/tmp/vg.%p.log" (tests/valgrind/run).
# The wrapper must exec listd in the same process (signals reach it) and keep stderr for listd's
# log. With a wrapper, start and stop wait WRAPPED_TIMEOUT s instead of 20 (memcheck is 20-50x
# slower); the tests' own timeouts are unchanged.
WRAPPER = shlex.split(os.environ.get("LISTD_WRAPPER", ""))
WRAPPED_TIMEOUT = 300
# LISTD_CLI_WRAPPER: the same for the CLIs run through Listd.run (listctl, newlist); opt-in.
CLI_WRAPPER = shlex.split(os.environ.get("LISTD_CLI_WRAPPER", ""))


def read(path):
    """The bytes of a file (closed at once)."""
    with open(path, "rb") as f:
        return f.read()


def wait_for(predicate, timeout=30.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out after %.0fs waiting for %s" % (timeout, what))


def free_port(host="127.0.0.1"):
    """A TCP port free on loopback right now. Chosen below the kernel's ephemeral range
    (32768 and up), so the client connections of tests running in parallel cannot take it as
    their local port before listd binds it."""
    for _ in range(200):
        port = random.randint(20000, 32000)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
                return port
            except OSError:
                continue
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def listeners_config(**extra):
    """Config text giving every listener a free loopback port; returns (text, {section: port}).
    extra: per-section additional lines, e.g. imap="tls_listen = 127.0.0.1:NNN\n"."""
    ports = {}
    text = ""
    for section in ("smtp", "lmtp", "http", "imap", "pop3"):
        ports[section] = free_port()
        text += "[%s]\nlisten = 127.0.0.1:%d\n%s" % (section, ports[section], extra.get(section, ""))
    return text, ports


class Listd:
    """A data dir + config, the CLIs bound to it, and an optional running daemon."""

    def __init__(self, extra_config="", user=None, relay_mode="maildir", listeners=None):
        """extra_config goes right after `[relay] mode` (so bare keys land in [relay]); it may
        open other sections but never sets a listener's `listen`: every listener (smtp, lmtp,
        http, imap, pop3) gets a free loopback port here, in self.ports (tests run in parallel).
        listeners: per-section extra lines, e.g. {"imap": "tls_listen = 127.0.0.1:N\n"}."""
        self.root = tempfile.mkdtemp(prefix="listd-it-")
        os.chmod(self.root, 0o700)
        self.data = os.path.join(self.root, "data")
        self.config = os.path.join(self.root, "listd.conf")
        listener_text, self.ports = listeners_config(**(listeners or {}))
        self.smtp_port, self.lmtp_port = self.ports["smtp"], self.ports["lmtp"]
        self.http_port = self.ports["http"]
        # user: who listd drops to when started as root (default: stay root for test rigs).
        user = user or ("root" if os.geteuid() == 0 else os.environ.get("USER", "listd"))
        if extra_config and not extra_config.endswith("\n"):
            extra_config += "\n"
        with open(self.config, "w") as f:
            f.write("data_dir = %s\nhostname = lists.mired.org\nuser = %s\n"
                    "base_url = http://lists.mired.org:8080\n[relay]\nmode = %s\n%s%s" %
                    (self.data, user, relay_mode, extra_config, listener_text))
        self.proc = None
        self.log_lines = []
        self._reader = None

    # --- CLIs -------------------------------------------------------------
    def run(self, prog, *args, stdin=None, env=None, check=False, timeout=60):
        e = dict(os.environ)
        e["LISTD_CONFIG"] = self.config
        if env:
            e.update(env)
        p = subprocess.run(CLI_WRAPPER + [os.path.join(BIN, prog)] + list(args), input=stdin, capture_output=True,
                           env=e, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError("%s %s -> %d\n%s" % (prog, args, p.returncode, p.stderr.decode(errors="replace")))
        return p

    def listctl(self, *args, **kw):
        return self.run("listctl", "--config", self.config, *args, **kw)

    def demo(self):
        """The demo of the README: mi_lista with owner ana, members ana and bob."""
        self.listctl("newlist", "mi_lista@lists.mired.org", "--owner", "ana@mired.org", "--quiet", check=True)
        self.listctl("members", "mi_lista@lists.mired.org", "add", "ana@mired.org", "bob@mired.org", check=True)

    # --- daemon -----------------------------------------------------------
    def start(self, attempts=3):
        """Start listd and wait for ev=started. If a listener port was taken meanwhile by
        another test (bind: Address already in use), move the listeners to new free ports
        (self.ports is updated in place) and try again."""
        for attempt in range(attempts):
            if self._start_once():
                return
            log = "".join(self.log_lines)
            self.stop()
            if "Address already in use" not in log or attempt + 1 == attempts:
                raise AssertionError("listd did not start:\n" + log)
            with open(self.config) as f:
                text = f.read()
            for section, old in list(self.ports.items()):
                new = free_port()
                text = text.replace("[%s]\nlisten = 127.0.0.1:%d\n" % (section, old),
                                    "[%s]\nlisten = 127.0.0.1:%d\n" % (section, new))
                self.ports[section] = new
            with open(self.config, "w") as f:
                f.write(text)
            self.smtp_port, self.lmtp_port = self.ports["smtp"], self.ports["lmtp"]
            self.http_port = self.ports["http"]
            self.log_lines = []

    def _start_once(self):
        self.proc = subprocess.Popen(WRAPPER + [os.path.join(BIN, "listd"), "--config", self.config],
                                     stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
        started = threading.Event()

        def read():
            for raw in self.proc.stderr:
                line = raw.decode(errors="replace")
                self.log_lines.append(line)
                if " ev=started" in line:
                    started.set()

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + (WRAPPED_TIMEOUT if WRAPPER else 20)
        while time.monotonic() < deadline:
            if started.wait(0.05):
                return True
            if self.proc.poll() is not None:  # exited: let the reader drain stderr
                self._reader.join(2)
                return started.is_set()
        return False

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(max(timeout, WRAPPED_TIMEOUT) if WRAPPER else timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        if self._reader:
            self._reader.join(5)
        self.proc.stderr.close()
        self.proc = None
        return rc

    def kill9(self):
        return self.stop(signal.SIGKILL)

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    # --- state ------------------------------------------------------------
    def files(self, *parts):
        d = os.path.join(self.data, *parts)
        if not os.path.isdir(d):
            return []
        return sorted(os.path.join(d, n) for n in os.listdir(d) if os.path.isfile(os.path.join(d, n)))

    def outbox(self):
        return self.files("outbox", "new")

    def archive(self, list_address="mi_lista@lists.mired.org"):
        return self.files("archive", list_address, "cur")

    def sql(self, query, *params):
        con = sqlite3.connect(os.path.join(self.data, "listd.db"), timeout=30)
        try:
            rows = con.execute(query, params).fetchall()
            con.commit()
            return rows
        finally:
            con.close()

    def log(self):
        return "".join(self.log_lines)

    def integrity_check(self):
        """PRAGMA integrity_check of listd.db: ["ok"] when the store is intact."""
        return [r[0] for r in self.sql("PRAGMA integrity_check")]

    def wait_idle(self, timeout=120):
        """Wait until spool/new is empty and every delivery job is done (listd running)."""
        def idle():
            if self.files("spool", "new"):
                return False
            return self.sql("SELECT count(*) FROM delivery_jobs WHERE done = 0")[0][0] == 0
        try:
            wait_for(idle, timeout, interval=0.05, what="spool drained and every delivery job done")
        except AssertionError as e:
            raise AssertionError("%s\n%s" % (e, self.log()[-3000:]))


# --- a private Postfix instance (issue 3: tests/integration/test_postfix.py, bench/intake) --------
POSTFIX_MASTER = """\
{listen} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class Postfix:
    """`postfix -c DIR start` with its own config, queue and data dirs under a temp dir, smtpd
    on a free loopback port, no chroot, no DNS. Needs root (the master starts as root).
    main_extra / master_extra / transport are appended to what the instance needs."""

    BIN = shutil.which("postfix") or "/usr/sbin/postfix"

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="listd-postfix-")
        self.port = free_port()
        self.started = False

    def start(self, main_extra="", master_extra="", transport=""):
        import pwd
        etc = os.path.join(self.root, "etc")
        os.makedirs(etc)
        os.chmod(self.root, 0o755)  # Postfix's daemons (user postfix) must reach their dirs
        os.makedirs(os.path.join(self.root, "queue"))
        os.makedirs(os.path.join(self.root, "data"))
        pf = pwd.getpwnam("postfix")
        os.chown(os.path.join(self.root, "data"), pf.pw_uid, pf.pw_gid)
        main = "\n".join([
            "compatibility_level = 3.6",
            "queue_directory = " + os.path.join(self.root, "queue"),
            "data_directory = " + os.path.join(self.root, "data"),
            "maillog_file = " + os.path.join(self.root, "maillog"), "maillog_file_prefixes = " + self.root,
            "mail_owner = postfix", "setgid_group = postdrop",
            "inet_interfaces = 127.0.0.1", "inet_protocols = ipv4",
            "myhostname = mx.mired.org", "mydomain = mired.org", "mydestination =",
            "mynetworks = 127.0.0.0/8", "alias_maps =", "alias_database =", "local_recipient_maps =",
            "smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination",
            "smtp_dns_support_level = disabled", "lmtp_host_lookup = native", "smtp_host_lookup = native",
            "default_transport = error:no outbound mail here", "bounce_queue_lifetime = 0",
            "maximal_backoff_time = 2s", "minimal_backoff_time = 1s", "queue_run_delay = 1s",
            "syslog_name = postfix-listd-test", ""]) + main_extra.replace(
                "hash:/etc/postfix/transport", "texthash:" + os.path.join(etc, "transport"))
        with open(os.path.join(etc, "main.cf"), "w") as f:
            f.write(main + "\n")
        with open(os.path.join(etc, "master.cf"), "w") as f:
            f.write(POSTFIX_MASTER.format(listen="127.0.0.1:%d" % self.port) + master_extra)
        with open(os.path.join(etc, "transport"), "w") as f:
            f.write(transport)
        p = subprocess.run([self.BIN, "-c", etc, "start"], capture_output=True, timeout=60)
        self.started = os.path.exists(os.path.join(self.root, "queue", "pid", "master.pid"))
        if p.returncode != 0:
            raise AssertionError("postfix start failed: %r %r\n%s" % (p.stdout, p.stderr, self.maillog()))
        wait_for(self._up, timeout=20, what="postfix smtpd")

    def _up(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                return s.recv(4).startswith(b"220")
        except OSError:
            return False

    def maillog(self):
        try:
            with open(os.path.join(self.root, "maillog"), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stop(self):
        if self.started:
            with open(os.path.join(self.root, "queue", "pid", "master.pid")) as f:
                master = int(f.read().strip())
            subprocess.run([self.BIN, "-c", os.path.join(self.root, "etc"), "stop"], capture_output=True, timeout=60)
            wait_for(lambda: not os.path.exists("/proc/%d" % master), timeout=20, what="postfix master to exit")
            self.started = False
        shutil.rmtree(self.root, ignore_errors=True)
