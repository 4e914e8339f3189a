# One poplib session; prints what it saw as JSON.
#   pop3_session.py HOST PORT ssl|stls|plain USER PASSWORD [DELE_NUMBER...]
# ssl: POP3_SSL; stls: POP3 then stls(); plain: POP3 without TLS, where the
# login must be refused (prints {"refused": "..."}).
import email
import email.policy
import json
import poplib
import ssl
import sys

host, port, mode, user, password = sys.argv[1], int(sys.argv[2]), *sys.argv[3:6]
dele = [int(n) for n in sys.argv[6:]]
ctx = ssl._create_unverified_context()

if mode == "ssl":
    pop = poplib.POP3_SSL(host, port, context=ctx)
elif mode in ("stls", "plain"):
    pop = poplib.POP3(host, port)
    if mode == "stls":
        pop.stls(context=ctx)
else:
    sys.exit("unknown mode " + mode)

if mode == "plain":
    try:
        pop.user(user)
        pop.pass_(password)
    except poplib.error_proto as e:
        print(json.dumps({"refused": str(e)}))
        pop.quit()
        sys.exit(0)
    sys.exit("USER/PASS accepted without TLS")

pop.user(user)
pop.pass_(password)
count, size = pop.stat()
_, listing, _ = pop.list()
_, uidl, _ = pop.uidl()
messages = []
for i in range(1, count + 1):
    _, lines, _ = pop.retr(i)
    raw = b"\r\n".join(lines) + b"\r\n"
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    messages.append({
        "number": i,
        "raw": raw.decode("utf-8", "replace"),
        "subject": str(parsed.get("Subject", "")),
    })
for n in dele:
    pop.dele(n)
pop.quit()
print(json.dumps({
    "count": count,
    "size": size,
    "list": [l.decode() for l in listing],
    "uidl": [l.decode() for l in uidl],
    "messages": messages,
}, ensure_ascii=False))
