#!/usr/bin/env python3
"""Record Dovecot's FETCH answers for every message in ../messages.

Usage: record.py HOST PORT USER PASS
APPENDs each message byte-for-byte (no line-ending rewriting, unlike imaplib),
then FETCHes a fixed list of items one per command and writes NAME.txt here:

    >>> ITEM LEN\n<LEN raw bytes: the value exactly as on the wire>\n

The value is what follows Dovecot's echo of the item name (e.g. after
"BODY[1] "), so it may be NIL, a quoted string, a literal "{n}\r\n..." or a
parenthesised list. Re-run against a fresh mailbox to refresh the corpus.
"""
import os, socket, sys

HERE = os.path.dirname(os.path.abspath(__file__))
MSGS = os.path.join(HERE, "..", "messages")

ITEMS = [
    "RFC822.SIZE", "ENVELOPE", "BODY", "BODYSTRUCTURE",
    "BODY.PEEK[]", "BODY.PEEK[]<10.50>",
    "BODY.PEEK[HEADER]",
    "BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT DATE MESSAGE-ID)]",
    "BODY.PEEK[HEADER.FIELDS.NOT (RECEIVED CONTENT-TYPE X-MAILER)]",
    "BODY.PEEK[TEXT]", "BODY.PEEK[TEXT]<0.100>",
]
for path in ["1", "2", "3", "1.1", "1.2", "2.1", "2.2", "1.1.1", "2.1.1", "2.1.2"]:
    ITEMS += [f"BODY.PEEK[{path}]", f"BODY.PEEK[{path}.MIME]",
              f"BODY.PEEK[{path}.HEADER]", f"BODY.PEEK[{path}.TEXT]"]
ITEMS += ["BODY.PEEK[1]<0.20>", "BODY.PEEK[1.HEADER.FIELDS (SUBJECT FROM)]",
          "BODY.PEEK[2.HEADER.FIELDS.NOT (SUBJECT)]"]

class Conn:
    def __init__(self, host, port):
        self.s = socket.create_connection((host, port))
        self.buf = b""
        self.n = 0
    def _fill(self):
        d = self.s.recv(65536)
        if not d:
            raise EOFError
        self.buf += d
    def line(self):
        """One response line, with any literals it announces folded in."""
        out = b""
        while True:
            while b"\r\n" not in self.buf:
                self._fill()
            i = self.buf.index(b"\r\n") + 2
            part, self.buf = self.buf[:i], self.buf[i:]
            out += part
            if part.endswith(b"}\r\n") and b"{" in part:
                n = int(part[part.rindex(b"{") + 1:-3])
                while len(self.buf) < n:
                    self._fill()
                out += self.buf[:n]
                self.buf = self.buf[n:]
                continue
            return out
    def cmd(self, text, literal=None):
        self.n += 1
        tag = b"t%d" % self.n
        if literal is None:
            self.s.sendall(tag + b" " + text + b"\r\n")
        else:
            self.s.sendall(tag + b" " + text + b" {%d}\r\n" % len(literal))
            l = self.line()
            assert l.startswith(b"+"), l
            self.s.sendall(literal + b"\r\n")
        lines = []
        while True:
            l = self.line()
            if l.startswith(tag + b" "):
                assert l.startswith(tag + b" OK"), (text, l)
                return lines
            lines.append(l)

def strip_echo(v):
    depth = 0
    for i, c in enumerate(v):
        ch = chr(c)
        if ch in "[(<":
            depth += 1
        elif ch in "])>":
            depth -= 1
        elif ch == " " and depth == 0:
            return v[:i], v[i + 1:]
    raise ValueError(v)

def main():
    host, port, user, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    c = Conn(host, port)
    c.line()
    c.cmd(b"LOGIN " + user.encode() + b" " + pw.encode())
    names = sorted(f for f in os.listdir(MSGS) if not f.startswith("."))
    for name in names:
        data = open(os.path.join(MSGS, name), "rb").read()
        c.cmd(b"APPEND INBOX", literal=data)
    c.cmd(b"SELECT INBOX")
    for seq, name in enumerate(names, 1):
        out = b""
        for item in ITEMS:
            lines = c.cmd(b"FETCH %d (%s)" % (seq, item.encode()))
            fetch = [l for l in lines if l.startswith(b"* %d FETCH (" % seq)]
            assert len(fetch) == 1, (name, item, lines)
            v = fetch[0][len(b"* %d FETCH (" % seq):]
            assert v.endswith(b")\r\n"), v[-20:]
            echo, value = strip_echo(v[:-3])
            out += b">>> %s %d\n" % (item.encode(), len(value)) + value + b"\n"
        base = os.path.splitext(name)[0]
        open(os.path.join(HERE, base + ".txt"), "wb").write(out)
    c.cmd(b"LOGOUT")

if __name__ == "__main__":
    main()
