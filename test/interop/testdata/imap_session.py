# One imaplib session on the imap listener (STARTTLS); prints every reply
# it got as JSON: {"step": {"typ": "OK", "data": ["...", ...]}, ...}.
#   imap_session.py HOST PORT USER PASSWORD
# INBOX must hold three messages. LOGIN is first tried in clear text,
# which the server must refuse (LOGINDISABLED); then STARTTLS, LOGIN and
# the commands of a typical script. imaplib sends mailbox names as given,
# so the UTF-8 name 台北 is written in modified UTF-7 (RFC 3501 §5.1.3).
import imaplib
import json
import ssl
import sys
import time

host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl._create_unverified_context()
TAIPEI = "&U,BTFw-"  # 台北

out = {}


def text(x):
    if isinstance(x, bytes):
        return x.decode("utf-8", "replace")
    if isinstance(x, tuple):
        return "".join(text(p) for p in x)
    return "" if x is None else str(x)


def rec(step, reply):
    typ, data = reply
    out[step] = {"typ": typ, "data": [text(d) for d in data]}


def done(error=None):
    if error:
        out["error"] = error
    print(json.dumps(out, ensure_ascii=False))
    sys.exit(0)


try:
    mail = imaplib.IMAP4(host, port)
    out["caps_plain"] = {"typ": "OK", "data": list(mail.capabilities)}
    try:
        rec("plain_login", mail.login(user, password))
        done("LOGIN accepted without TLS")
    except imaplib.IMAP4.error as e:
        out["plain_login"] = {"typ": "NO", "data": [str(e)]}

    mail.starttls(ssl_context=ctx)
    out["caps_tls"] = {"typ": "OK", "data": list(mail.capabilities)}
    rec("login", mail.login(user, password))

    rec("select", mail.select("INBOX"))
    rec("store_seen", mail.store("1", "+FLAGS", "\\Seen"))
    rec("search_unseen", mail.search(None, "UNSEEN"))
    rec("copy", mail.copy("2", "Archive"))
    rec("store_deleted", mail.store("2", "+FLAGS", "\\Deleted"))
    rec("expunge", mail.expunge())
    rec("fetch_flags", mail.fetch("1:*", "(UID FLAGS)"))
    rec("list", mail.list())
    rec("status_archive", mail.status("Archive", "(MESSAGES UNSEEN UIDNEXT)"))

    draft = (b"From: alice@example.test\r\nTo: bob@remote.test\r\n"
             b"Subject: draft from imaplib\r\nMessage-ID: <draft-1@example.test>\r\n\r\n"
             b"not sent yet\r\n")
    rec("append", mail.append("Drafts", "(\\Draft \\Seen)", imaplib.Time2Internaldate(time.time()), draft))
    rec("select_drafts", mail.select("Drafts"))
    rec("fetch_draft", mail.fetch("1", "(FLAGS BODY.PEEK[])"))

    rec("create_utf7", mail.create(TAIPEI))
    rec("list_all", mail.list('""', "*"))
    rec("list_utf7", mail.list('""', TAIPEI))
    rec("append_utf7", mail.append(TAIPEI, None, None, draft.replace(b"draft-1", b"taipei-1")))
    rec("status_utf7", mail.status(TAIPEI, "(MESSAGES)"))
    rec("logout", mail.logout())
except Exception as e:  # report what happened so far, then the failure
    done("%s: %s" % (type(e).__name__, e))
done()
