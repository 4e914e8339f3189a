# The IMAP "read every message" snippet as tutorials write it, with only
# host, port, credentials and the TLS context (the test certificate is
# self-signed) taken from the command line:
#   imap_seed.py HOST PORT USER PASSWORD
# Prints each Subject as the snippet does, then decoded ("decoded: ...").
import email
import email.header
import imaplib
import ssl
import sys

host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl._create_unverified_context()

mail = imaplib.IMAP4_SSL(host, port, ssl_context=ctx)
mail.login(user, password)
mail.select("inbox")
result, data = mail.search(None, "ALL")
for num in data[0].split():
    result, msg_data = mail.fetch(num, "(RFC822)")
    msg = email.message_from_bytes(msg_data[0][1])
    print(msg["Subject"])
    print("decoded:", str(email.header.make_header(email.header.decode_header(msg["Subject"]))))
mail.logout()
