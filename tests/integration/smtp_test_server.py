"""smtp_test_server - a scriptable SMTP server (python3 asyncio) for the relay's integration tests.

Runs its own event loop on a thread, on 127.0.0.1 and a free port. Script it with attributes:
  pipelining/chunking/starttls (advertise them; STARTTLS needs `tls_context`),
  greeting_421 (refuse the first N connections with 421), rcpt_reply(rcpt, attempt) -> reply
  or None for 250, drop_in_data (drop the first N DATA transfers halfway), delay (seconds before
  each reply), auth ((user, password) required before MAIL), max_recipients.
It records every recipient it accepted with a final 250 (`delivered`: list of (mail_from, rcpt)),
the message bodies (dot-unstuffed), connections, commands, and the peak of concurrent sessions.
"""
import asyncio
import base64
import collections
import socket
import threading


class SmtpTestServer:
    def __init__(self, host="127.0.0.1", port=0):
        self.host = host
        self.port = port
        self.pipelining = True
        self.chunking = False
        self.starttls = False
        self.tls_context = None
        self.greeting_421 = 0
        self.rcpt_reply = None
        self.drop_in_data = 0
        self.delay = 0.0
        self.auth = None
        self.lock = threading.Lock()
        self.delivered = []
        self.bodies = []
        self.connections = 0
        self.concurrent = 0
        self.peak_concurrent = 0
        self.commands = []  # every command line (for checking pipelining)
        self.reads_with_many_commands = 0
        self.tls_sessions = 0
        self.auth_ok = 0
        self.attempts = collections.Counter()
        self._loop = None
        self._server = None
        self._thread = None

    # --- control ----------------------------------------------------------
    def start(self):
        ready = threading.Event()

        def run():
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            self.port = sock.getsockname()[1]
            self._server = self._loop.run_until_complete(asyncio.start_server(self._session, sock=sock, limit=1 << 20))
            ready.set()
            self._loop.run_forever()
            for task in asyncio.all_tasks(self._loop):
                task.cancel()
            self._loop.run_until_complete(asyncio.sleep(0))
            self._server.close()
            self._loop.run_until_complete(self._server.wait_closed())
            self._loop.close()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self):
        if self._loop:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop = None

    def rcpts(self):
        with self.lock:
            return [r for _, r in self.delivered]

    # --- session ----------------------------------------------------------
    async def _session(self, reader, writer):
        with self.lock:
            self.connections += 1
            n = self.connections
            self.concurrent += 1
            self.peak_concurrent = max(self.peak_concurrent, self.concurrent)
        try:
            await self._dialogue(n, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            pass
        finally:
            with self.lock:
                self.concurrent -= 1
            try:
                writer.close()
            except Exception:
                pass

    async def _reply(self, writer, text):
        if self.delay:
            await asyncio.sleep(self.delay)
        writer.write(text.encode() + b"\r\n")
        await writer.drain()

    async def _dialogue(self, n, reader, writer):
        if n <= self.greeting_421:
            await self._reply(writer, "421 4.3.2 busy, try later")
            return
        await self._reply(writer, "220 test.sink ESMTP scripted")
        tls = False
        authed = self.auth is None
        mail_from, rcpts = None, []
        while True:
            line = await reader.readline()
            if not line:
                return
            if len(reader._buffer) > 0:  # more commands already waiting: the client pipelined
                with self.lock:
                    self.reads_with_many_commands += 1
            cmd = line.decode("utf-8", "replace").rstrip("\r\n")
            verb = cmd.split(" ", 1)[0].upper()
            with self.lock:
                self.commands.append(cmd)
            if verb in ("EHLO", "HELO"):
                if verb == "HELO":
                    await self._reply(writer, "250 test.sink")
                    continue
                ext = ["250-test.sink", "250-SIZE 10485760", "250-8BITMIME"]
                if self.pipelining:
                    ext.append("250-PIPELINING")
                if self.chunking:
                    ext.append("250-CHUNKING")
                if self.starttls and not tls:
                    ext.append("250-STARTTLS")
                if self.auth:
                    ext.append("250-AUTH LOGIN PLAIN")
                ext.append("250 ENHANCEDSTATUSCODES")
                await self._reply(writer, "\r\n".join(ext))
            elif verb == "STARTTLS" and self.starttls and not tls:
                await self._reply(writer, "220 2.0.0 go ahead")
                await writer.start_tls(self.tls_context)
                tls = True
                with self.lock:
                    self.tls_sessions += 1
            elif verb == "AUTH" and self.auth:
                parts = cmd.split(" ")
                ok = False
                if parts[1].upper() == "PLAIN" and len(parts) == 3:
                    ok = base64.b64decode(parts[2]) == b"\0" + self.auth[0].encode() + b"\0" + self.auth[1].encode()
                elif parts[1].upper() == "LOGIN":
                    await self._reply(writer, "334 VXNlcm5hbWU6")
                    u = base64.b64decode((await reader.readline()).strip())
                    await self._reply(writer, "334 UGFzc3dvcmQ6")
                    p = base64.b64decode((await reader.readline()).strip())
                    ok = (u.decode(), p.decode()) == self.auth
                authed = ok
                if ok:
                    with self.lock:
                        self.auth_ok += 1
                await self._reply(writer, "235 2.7.0 ok" if ok else "535 5.7.8 bad credentials")
            elif verb == "MAIL":
                if not authed:
                    await self._reply(writer, "530 5.7.0 authentication required")
                    continue
                mail_from = cmd[cmd.index("<") + 1:cmd.index(">")]
                rcpts = []
                await self._reply(writer, "250 2.1.0 ok")
            elif verb == "RCPT":
                rcpt = cmd[cmd.index("<") + 1:cmd.index(">")]
                with self.lock:
                    self.attempts[rcpt] += 1
                    attempt = self.attempts[rcpt]
                reply = self.rcpt_reply(rcpt, attempt) if self.rcpt_reply else None
                if mail_from is None:
                    reply = "503 5.5.1 MAIL first"
                if reply is None:
                    rcpts.append(rcpt)
                    reply = "250 2.1.5 ok"
                await self._reply(writer, reply)
            elif verb == "DATA":
                if not rcpts:
                    await self._reply(writer, "554 5.5.1 no valid recipients")
                    continue
                await self._reply(writer, "354 go ahead")
                drop = False
                with self.lock:
                    if self.drop_in_data > 0:
                        self.drop_in_data -= 1
                        drop = True
                if drop:
                    await reader.readline()
                    return  # connection dropped in the middle of the data
                body = []
                while True:
                    l = await reader.readline()
                    if not l:
                        return
                    if l == b".\r\n":
                        break
                    body.append(l[1:] if l.startswith(b".") else l)
                self._accept(mail_from, rcpts, b"".join(body))
                await self._reply(writer, "250 2.0.0 queued")
                mail_from, rcpts = None, []
            elif verb == "BDAT":
                size = int(cmd.split(" ")[1])
                data = await reader.readexactly(size)
                if not rcpts:
                    await self._reply(writer, "554 5.5.1 no valid recipients")
                    continue
                self._accept(mail_from, rcpts, data)
                await self._reply(writer, "250 2.0.0 queued")
                mail_from, rcpts = None, []
            elif verb == "RSET":
                mail_from, rcpts = None, []
                await self._reply(writer, "250 2.0.0 ok")
            elif verb == "NOOP":
                await self._reply(writer, "250 2.0.0 ok")
            elif verb == "QUIT":
                await self._reply(writer, "221 2.0.0 bye")
                return
            else:
                await self._reply(writer, "500 5.5.2 unknown command")

    def _accept(self, mail_from, rcpts, body):
        with self.lock:
            for r in rcpts:
                self.delivered.append((mail_from, r))
            self.bodies.append(body)
