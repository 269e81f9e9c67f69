"""listd_harness - start a real listd on a temporary data dir and drive the CLIs.

Used by the integration tests (python3 unittest, run by ctest). Every process and file a
test makes is cleaned up in stop()/cleanup(). Binaries come from $LISTD_BIN (build/bin).
"""
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time

BIN = os.environ.get("LISTD_BIN", os.path.join(os.path.dirname(__file__), "..", "..", "build", "bin"))


def wait_for(predicate, timeout=30.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out after %.0fs waiting for %s" % (timeout, what))


def free_port():
    """A TCP port free on 127.0.0.1 right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Listd:
    """A data dir + config, the CLIs bound to it, and an optional running daemon."""

    def __init__(self, extra_config=""):
        self.root = tempfile.mkdtemp(prefix="listd-it-")
        os.chmod(self.root, 0o700)
        self.data = os.path.join(self.root, "data")
        self.config = os.path.join(self.root, "listd.conf")
        user = "root" if os.geteuid() == 0 else os.environ.get("USER", "listd")
        # The web admin listens on a free port unless the test configures [http] itself.
        self.http_port = free_port()
        if "[http]" not in extra_config:
            extra_config += "\n[http]\nlisten = 127.0.0.1:%d\n" % self.http_port
        with open(self.config, "w") as f:
            f.write("data_dir = %s\nhostname = lists.mired.org\nuser = %s\n"
                    "base_url = http://lists.mired.org:8080\n[relay]\nmode = maildir\n%s" % (self.data, user, extra_config))
        self.proc = None
        self.log_lines = []
        self._reader = None

    # --- CLIs -------------------------------------------------------------
    def run(self, prog, *args, stdin=None, env=None, check=False, timeout=60):
        e = dict(os.environ)
        e["LISTD_CONFIG"] = self.config
        if env:
            e.update(env)
        p = subprocess.run([os.path.join(BIN, prog)] + list(args), input=stdin, capture_output=True, env=e,
                           timeout=timeout)
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
    def start(self):
        self.proc = subprocess.Popen([os.path.join(BIN, "listd"), "--config", self.config], stderr=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL)
        started = threading.Event()

        def read():
            for raw in self.proc.stderr:
                line = raw.decode(errors="replace")
                self.log_lines.append(line)
                if " ev=started" in line:
                    started.set()

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()
        if not started.wait(20):
            self.stop()
            raise AssertionError("listd did not start:\n" + "".join(self.log_lines))

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
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
            return con.execute(query, params).fetchall()
        finally:
            con.close()

    def log(self):
        return "".join(self.log_lines)
