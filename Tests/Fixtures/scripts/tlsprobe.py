#!/usr/bin/env python3
"""TLS probes for Roost's integration tests: a real client stack (Python's ssl = OpenSSL),
JSON on stdout. Usage: tlsprobe.py COMMAND HOST PORT [args...]"""
import json, socket, ssl, sys, threading, time

VERSIONS = {"1.0": ssl.TLSVersion.TLSv1, "1.1": ssl.TLSVersion.TLSv1_1,
            "1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def context(minv="1.2", maxv="1.3"):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if minv in ("1.0", "1.1"):
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # let the client offer old versions at all
    ctx.minimum_version = VERSIONS[minv]
    ctx.maximum_version = VERSIONS[maxv]
    return ctx


def connect(host, port, source=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(20)
    if source:
        s.bind((source, 0))
    s.connect((host, port))
    return s


def readline(sock):
    buf = b""
    while not buf.endswith(b"\n"):
        c = sock.recv(1)
        if not c:
            break
        buf += c
    return buf.decode(errors="replace").rstrip("\r\n")


def until_tagged(sock, tag):
    lines = []
    while True:
        line = readline(sock)
        if not line and not lines:
            return lines
        lines.append(line)
        if line.startswith(tag + " ") or not line:
            return lines


def subject_cn(tls):
    der = tls.getpeercert(binary_form=True)
    import subprocess
    pem = ssl.DER_cert_to_PEM_cert(der)
    out = subprocess.run(["openssl", "x509", "-noout", "-subject"], input=pem.encode(), capture_output=True)
    return out.stdout.decode().strip()


def greet(host, port, minv, maxv, servername=None):
    try:
        s = connect(host, port)
        tls = context(minv, maxv).wrap_socket(s, server_hostname=servername)
        return {"ok": True, "version": tls.version(), "greeting": readline(tls), "subject": subject_cn(tls)}
    except Exception as e:
        return {"ok": False, "error": str(e)}


def starttls_inject(host, port):
    s = connect(host, port)
    greeting = readline(s)
    s.sendall(b"a STARTTLS\r\nb LOGOUT\r\n")
    ok = readline(s)
    tls = context().wrap_socket(s)
    tls.sendall(b"c NOOP\r\n")
    after = until_tagged(tls, "c")
    tls.sendall(b"d CAPABILITY\r\n")
    caps = until_tagged(tls, "d")
    return {"greeting": greeting, "starttls": ok, "after": after, "capability": caps}


def login(host, port, user, password, source=None, starttls=False):
    s = connect(host, port, source)
    out = {"greeting": readline(s)}
    if starttls:
        s.sendall(b"s STARTTLS\r\n")
        out["starttls"] = readline(s)
        s = context().wrap_socket(s)
        s.sendall(b"c CAPABILITY\r\n")
        out["capability"] = until_tagged(s, "c")
    s.sendall(b"l LOGIN %s %s\r\n" % (user.encode(), password.encode()))
    out["login"] = until_tagged(s, "l")
    s.sendall(b"p AUTHENTICATE PLAIN\r\n")
    out["authenticate"] = until_tagged(s, "p") if not out["login"][-1].startswith("l OK") else []
    return out


def many(host, port, n):
    results = []
    lock = threading.Lock()
    socks = []
    def one():
        try:
            s = connect(host, port)
            tls = context().wrap_socket(s)
            g = readline(tls)
            with lock:
                results.append(g.startswith("* OK"))
                socks.append(tls)  # keep every session open until all are done
        except Exception as e:
            with lock:
                results.append(False)
    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"ok": sum(results), "total": n}


def stall(host, port):
    s = connect(host, port)
    s.settimeout(60)
    s.sendall(b"\x16\x03\x01\x00")  # the first bytes of a ClientHello, then nothing
    start = time.time()
    try:
        data = s.recv(100)
        while data:
            data = s.recv(100)
    except Exception as e:
        return {"closed": False, "error": str(e)}
    return {"closed": True, "seconds": time.time() - start}


def versions(host, port, mode):
    """Tries TLS 1.0 to 1.3 one at a time against an implicit-TLS port (mode "implicit") or
    after IMAP STARTTLS / POP3 STLS (mode "imap" / "pop3"); version -> negotiated or error."""
    out = {}
    for v in ["1.0", "1.1", "1.2", "1.3"]:
        s = connect(host, port)
        try:
            if mode == "imap":
                readline(s)
                s.sendall(b"s STARTTLS\r\n")
                readline(s)
            elif mode == "pop3":
                readline(s)
                s.sendall(b"STLS\r\n")
                readline(s)
            tls = context(v, v).wrap_socket(s)
            out[v] = tls.version()
            tls.close()
        except (ssl.SSLError, OSError) as e:
            out[v] = "error: " + str(e)
            s.close()
    return out


def cert_login(host, port, cert, key, user, password):
    """IMAPS with an optional client certificate ("-" for none): LOGIN, then the tagged reply."""
    ctx = context()
    if cert != "-":
        ctx.load_cert_chain(cert, key)
    s = ctx.wrap_socket(connect(host, port))
    out = {"greeting": readline(s)}
    s.sendall(b"l LOGIN %s %s\r\n" % (user.encode(), password.encode()))
    out["login"] = until_tagged(s, "l")
    s.sendall(b"q LOGOUT\r\n")
    until_tagged(s, "q")
    return out


def session_then(host, port, user, password):
    """Logs in over IMAPS, prints, then keeps the session for a NOOP after a line on stdin."""
    s = context().wrap_socket(connect(host, port))
    readline(s)
    s.sendall(b"l LOGIN %s %s\r\n" % (user.encode(), password.encode()))
    print(json.dumps({"login": until_tagged(s, "l"), "subject": subject_cn(s)}), flush=True)
    sys.stdin.readline()
    s.sendall(b"n NOOP\r\n")
    print(json.dumps({"noop": until_tagged(s, "n")}), flush=True)


if __name__ == "__main__":
    cmd, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    args = sys.argv[4:]
    if cmd == "greet":
        r = greet(host, port, args[0], args[1], args[2] if len(args) > 2 else None)
    elif cmd == "starttls-inject":
        r = starttls_inject(host, port)
    elif cmd == "login":
        r = login(host, port, args[0], args[1], source=args[2] if len(args) > 2 and args[2] != "-" else None,
                  starttls=len(args) > 3 and args[3] == "starttls")
    elif cmd == "versions":
        r = versions(host, port, args[0])
    elif cmd == "certlogin":
        r = cert_login(host, port, *args[:4])
    elif cmd == "many":
        r = many(host, port, int(args[0]))
    elif cmd == "stall":
        r = stall(host, port)
    elif cmd == "session":
        session_then(host, port, args[0], args[1])
        sys.exit(0)
    else:
        sys.exit("unknown command")
    print(json.dumps(r))
