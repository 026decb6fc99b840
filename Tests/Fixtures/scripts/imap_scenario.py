#!/usr/bin/env python3
"""An IMAP client scenario with Python's imaplib against a running server (IMAPScenarioTests).

    imap_scenario.py run IMAP_PORT LMTP_PORT USER PASSWORD MESSAGE_DIR
    imap_scenario.py deliver LMTP_PORT USER SUBJECT        (used by `run`, as another process)

`run` logs in; creates, renames and deletes folders; appends 200 varied messages (the files
of MESSAGE_DIR, cycled, each with its own X-Scenario header); fetches every item kind and
checks the bytes; searches, sorts and threads; stores; copies; moves; expunges; then idles while another process
delivers over LMTP, and finally has 200 sessions idle at once and sees all of them hear one
delivery. Every check is an assert; the last line printed is
"STATE inbox=N scenario=N sub=N" for the caller to compare with the Maildir on disk.
"""
import datetime
import imaplib
import os
import re
import socket
import subprocess
import sys
import time

imaplib.Commands.setdefault("MOVE", ("SELECTED",))
imaplib.Commands.setdefault("IDLE", ("AUTH", "SELECTED"))
CRLF_RE = re.compile(rb"\r\n|\r|\n")


def deliver(lmtp_port, user, subject):
    """One LMTP transaction; raises unless the recipient's reply is 250."""
    s = socket.create_connection(("127.0.0.1", lmtp_port), timeout=10)
    f = s.makefile("rb")

    def reply():
        while True:
            line = f.readline().decode()
            if line[3:4] != "-":
                return line

    assert reply().startswith("220")
    s.sendall(b"LHLO scenario\r\n")
    assert reply().startswith("250")
    body = "Subject: %s\r\nMessage-ID: <%s@scenario>\r\n\r\ndelivered while idling\r\n" % (subject, subject)
    s.sendall(("MAIL FROM:<s@example.org>\r\nRCPT TO:<%s@example.org>\r\nDATA\r\n" % user).encode())
    for _ in range(3):
        reply()
    s.sendall(body.encode() + b".\r\n")
    r = reply()
    assert r.startswith("250 "), r
    s.sendall(b"QUIT\r\n")
    s.close()


def deliver_from_other_process(lmtp_port, user, subject):
    subprocess.run([sys.executable, __file__, "deliver", str(lmtp_port), user, subject], check=True, timeout=30)


def ok(result, what):
    typ, data = result
    assert typ == "OK", "%s: %s %r" % (what, typ, data)
    return data


def messages(directory, count):
    """`count` messages from the fixture files, each made unique, with CRLF line ends."""
    files = sorted(f for f in os.listdir(directory) if f.endswith((".txt", ".eml")))
    out = []
    for i in range(count):
        with open(os.path.join(directory, files[i % len(files)]), "rb") as fh:
            raw = fh.read()
        raw = b"X-Scenario: %d\r\n" % (i + 1) + CRLF_RE.sub(b"\r\n", raw)
        if not raw.endswith(b"\r\n"):
            raw += b"\r\n"
        out.append(raw)
    return out


def flags_for(i):
    f = []
    if i % 3 == 0:
        f.append("\\Seen")
    if i % 5 == 0:
        f.append("\\Flagged")
    if i % 7 == 0:
        f.append("$Label1")
    return f


def search(m, *criteria):
    data = ok(m.search(None, *criteria), "SEARCH %s" % (criteria,))
    return [int(x) for x in data[0].split()]


def fetch_all_items(m, originals):
    """Every FETCH item kind on every message; bytes compared with what was appended."""
    data = ok(m.fetch("1:*", "(UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])"), "FETCH bodies")
    bodies = [part for part in data if isinstance(part, tuple)]
    assert len(bodies) == len(originals), len(bodies)
    for n, (meta, body) in enumerate(bodies):
        assert body == originals[n], "BODY[] of %d differs" % (n + 1)
        size = int(re.search(rb"RFC822\.SIZE (\d+)", meta).group(1))
        assert size == len(originals[n]), "RFC822.SIZE of %d: %d != %d" % (n + 1, size, len(originals[n]))
        assert re.search(rb'INTERNALDATE "\d{2}-[A-Z][a-z]{2}-\d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}"', meta), meta
    items = [
        "ENVELOPE", "BODYSTRUCTURE", "BODY", "RFC822.HEADER", "BODY.PEEK[HEADER]", "BODY.PEEK[TEXT]",
        "BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)]", "BODY.PEEK[HEADER.FIELDS.NOT (SUBJECT)]",
        "BODY.PEEK[1]", "BODY.PEEK[1.MIME]", "BODY.PEEK[]<0.20>", "ALL", "FAST", "FULL",
    ]
    for item in items:
        # The macros ALL, FAST and FULL stand alone (RFC 3501 §6.4.5), the rest in a list.
        data = ok(m.fetch("1:*", item if item in ("ALL", "FAST", "FULL") else "(%s)" % item), "FETCH %s" % item)
        # One response per message: "N (" opens each (a literal makes it a tuple).
        starts = [d[0] if isinstance(d, tuple) else d for d in data]
        responses = [d for d in starts if re.match(rb"\d+ \(", d)]
        assert len(responses) == len(originals), "FETCH %s: %d responses" % (item, len(responses))
    # Header and text sections put together are the message.
    head = ok(m.fetch("7", "(BODY.PEEK[HEADER])"), "HEADER")[0][1]
    text = ok(m.fetch("7", "(BODY.PEEK[TEXT])"), "TEXT")[0][1]
    assert head + text == originals[6]
    part = ok(m.fetch("7", "(BODY.PEEK[]<5.10>)"), "partial")[0]
    assert part[1] == originals[6][5:15], part
    # RFC822 and BODY[] (without PEEK) set \Seen (RFC 3501 §6.4.5); RFC822.TEXT too.
    assert b"\\Seen" not in ok(m.fetch("2", "(FLAGS)"), "FLAGS")[0]
    rfc822 = ok(m.fetch("2", "(RFC822)"), "RFC822")
    assert rfc822[0][1] == originals[1]
    assert b"\\Seen" in ok(m.fetch("2", "(FLAGS)"), "FLAGS")[0]
    ok(m.store("2", "-FLAGS.SILENT", "(\\Seen)"), "unseen again")
    text = ok(m.fetch("4", "(RFC822.TEXT)"), "RFC822.TEXT")[0][1]
    assert originals[3].endswith(text)
    ok(m.store("4", "-FLAGS.SILENT", "(\\Seen)"), "unseen again")


def idle_start(m):
    tag = m._new_tag()
    m.send(tag + b" IDLE\r\n")
    line = m.readline()
    assert line.startswith(b"+"), line
    return tag


def idle_wait_for(m, pattern, timeout=20):
    """Reads untagged lines during IDLE until one matches `pattern`."""
    deadline = time.time() + timeout
    m.sock.settimeout(timeout)
    while time.time() < deadline:
        line = m.readline()
        assert line, "connection closed during IDLE"
        if re.match(pattern, line):
            return line
    raise AssertionError("no %r within %ss" % (pattern, timeout))


def idle_done(m, tag):
    m.send(b"DONE\r\n")
    while True:
        line = m.readline()
        if line.startswith(tag + b" "):
            assert line.startswith(tag + b" OK"), line
            return


def run(imap_port, lmtp_port, user, password, message_dir):
    m = imaplib.IMAP4("127.0.0.1", imap_port)
    m.sock.settimeout(60)
    ok(m.login(user, password), "LOGIN")
    caps = ok(m.capability(), "CAPABILITY")[0].decode().split()
    for cap in ("IDLE", "UIDPLUS", "MOVE", "LIST-EXTENDED", "ESEARCH", "SPECIAL-USE"):
        assert cap in caps, (cap, caps)
    print("login ok")

    # Folders: create, rename, delete.
    for name in ("Scenario", "Scenario/Sub", "Temp", "Temp/Inner"):
        ok(m.create(name), "CREATE " + name)
    typ, data = m.create("Scenario")
    assert typ == "NO" and b"[ALREADYEXISTS]" in data[0], data
    ok(m.rename("Temp", "Renamed"), "RENAME")
    ok(m.delete("Renamed/Inner"), "DELETE child")
    ok(m.delete("Renamed"), "DELETE")
    names = [line.decode() for line in ok(m.list(), "LIST")]
    assert names == [
        '(\\HasNoChildren) "/" INBOX',
        '(\\HasChildren) "/" Scenario',
        '(\\HasNoChildren) "/" Scenario/Sub',
    ], names
    typ, data = m.select("Renamed")
    assert typ == "NO" and data[0] == b"Mailbox doesn't exist: Renamed.", data
    print("folders ok")

    # 200 varied messages.
    originals = messages(message_dir, 200)
    for i, raw in enumerate(originals):
        date = imaplib.Time2Internaldate(1_600_000_000 + i * 86_400)
        typ, data = m.append("INBOX", "(%s)" % " ".join(flags_for(i)), date, raw)
        assert typ == "OK" and data[0].startswith(b"[APPENDUID "), (i, typ, data)
    count = int(ok(m.select("INBOX"), "SELECT")[0])
    assert count == 200, count
    print("append ok")

    # SEARCH before any FETCH changes \Seen.
    assert search(m, "ALL") == list(range(1, 201))
    assert search(m, "SEEN") == [i + 1 for i in range(200) if i % 3 == 0]
    assert search(m, "FLAGGED", "UNSEEN") == [i + 1 for i in range(200) if i % 5 == 0 and i % 3 != 0]
    assert search(m, "KEYWORD", "$Label1") == [i + 1 for i in range(200) if i % 7 == 0]
    assert search(m, "HEADER", "X-Scenario", "117") == [117]
    assert search(m, "OR", "HEADER", "X-Scenario", "3", "HEADER", "X-Scenario", "150") == [
        n for n in range(1, 201) if "3" in str(n) or "150" in str(n)]
    # Internal dates are 12:26 UTC: the same calendar day in any time zone within ±11 h.
    january = [i + 1 for i in range(200)
               if datetime.datetime.fromtimestamp(1_600_000_000 + i * 86_400, datetime.timezone.utc).strftime("%Y-%m") == "2021-01"]
    assert search(m, "SINCE", "1-Jan-2021", "BEFORE", "1-Feb-2021") == january, january
    typ, data = m._simple_command("SEARCH", "RETURN", "(MIN MAX COUNT)", "SEEN")
    assert typ == "OK"
    typ, esearch = m._untagged_response(typ, data, "ESEARCH")
    assert esearch[0].endswith(b"MIN 1 MAX 199 COUNT 67"), esearch
    typ, data = m.uid("SEARCH", "UID", "195:*")
    assert data[0].split() == [b"195", b"196", b"197", b"198", b"199", b"200"], data
    # imaplib's sort() and thread() (it checks the SORT capability itself).
    data = ok(m.sort("(REVERSE ARRIVAL)", "UTF-8", "ALL"), "SORT")
    assert [int(x) for x in data[0].split()] == list(range(200, 0, -1)), data
    data = ok(m.sort("(ARRIVAL)", "UTF-8", "SEEN"), "SORT SEEN")
    assert [int(x) for x in data[0].split()] == [i + 1 for i in range(200) if i % 3 == 0], data
    data = ok(m.thread("REFERENCES", "UTF-8", "HEADER", "X-Scenario", "117"), "THREAD")
    assert data[0] == b"(117)", data
    print("search ok")

    fetch_all_items(m, originals)
    print("fetch ok")

    # STORE: flags and keywords, FLAGS.SILENT, -FLAGS.
    data = ok(m.store("1:3", "+FLAGS", "(\\Answered $Custom)"), "STORE")
    assert len(data) == 3 and all(b"\\Answered" in d and b"$Custom" in d for d in data), data
    ok(m.store("1", "-FLAGS", "($Custom)"), "STORE -FLAGS")
    assert search(m, "KEYWORD", "$Custom") == [2, 3]
    ok(m.store("10", "FLAGS.SILENT", "(\\Draft)"), "STORE FLAGS.SILENT")
    assert ok(m.fetch("10", "(FLAGS)"), "FLAGS")[0] == b"10 (FLAGS (\\Draft))"
    print("store ok")

    # COPY and MOVE.
    typ, data = m.copy("1:10", "Scenario")
    assert typ == "OK" and data[0].startswith(b"[COPYUID "), data
    typ, data = m.uid("MOVE", "11:20", "Scenario/Sub")
    assert typ == "OK", data
    assert int(ok(m.select("INBOX"), "SELECT")[0]) == 190
    assert m.status("Scenario", "(MESSAGES)")[1][0] == b"Scenario (MESSAGES 10)"
    assert m.status("Scenario/Sub", "(MESSAGES)")[1][0] == b"Scenario/Sub (MESSAGES 10)"
    ok(m.select("Scenario/Sub", readonly=True), "EXAMINE")
    assert search(m, "HEADER", "X-Scenario", "15") == [5]
    ok(m.select("INBOX"), "SELECT")
    print("copy move ok")

    # EXPUNGE.
    ok(m.store("1:5", "+FLAGS.SILENT", "(\\Deleted)"), "STORE deleted")
    typ, data = m.expunge()
    # Highest first, as Dovecot sends them.
    assert typ == "OK" and data == [b"5", b"4", b"3", b"2", b"1"], data
    assert int(ok(m.select("INBOX"), "SELECT")[0]) == 185
    assert ok(m.fetch("1", "(BODY.PEEK[HEADER.FIELDS (X-Scenario)])"), "after expunge")[0][1].startswith(b"X-Scenario: 6\r\n")
    print("expunge ok")

    # IDLE sees a delivery made by another process.
    tag = idle_start(m)
    deliver_from_other_process(lmtp_port, user, "idle-one")
    idle_wait_for(m, rb"\* 186 EXISTS")
    idle_done(m, tag)
    subject = ok(m.fetch("186", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])"), "new")[0][1]
    assert subject.strip() == b"Subject: idle-one", subject
    print("idle ok")

    # 200 sessions idle at once; one delivery reaches every one of them.
    idlers = []
    for i in range(200):
        c = imaplib.IMAP4("127.0.0.1", imap_port)
        c.sock.settimeout(30)
        ok(c.login(user, password), "LOGIN %d" % i)
        assert int(ok(c.select("INBOX"), "SELECT")[0]) == 186
        idlers.append((c, idle_start(c)))
    deliver_from_other_process(lmtp_port, user, "idle-all")
    # Read sequentially: every session's lines wait in its socket meanwhile.
    for c, _ in idlers:
        idle_wait_for(c, rb"\* 187 EXISTS")
    for c, t in idlers:
        idle_done(c, t)
        c.logout()
    print("idle x200 ok")

    inbox = int(ok(m.select("INBOX"), "SELECT")[0])
    scenario = int(m.status("Scenario", "(MESSAGES)")[1][0].split()[-1].rstrip(b")"))
    sub = int(m.status("Scenario/Sub", "(MESSAGES)")[1][0].split()[-1].rstrip(b")"))
    m.logout()
    print("STATE inbox=%d scenario=%d sub=%d" % (inbox, scenario, sub))


if __name__ == "__main__":
    if sys.argv[1] == "deliver":
        deliver(int(sys.argv[2]), sys.argv[3], sys.argv[4])
    else:
        run(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6])
