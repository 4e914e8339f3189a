# Sends one message per SUBJECT through submission with STARTTLS, each
# built by email.message.EmailMessage (which encodes a non-ASCII Subject
# as an RFC 2047 encoded word).
#   smtp_send.py HOST PORT USER PASSWORD SUBJECT...
import smtplib
import ssl
import sys
from email.message import EmailMessage

host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]

with smtplib.SMTP(host, port) as smtp:
    smtp.starttls(context=ssl._create_unverified_context())
    smtp.login(user, password)
    for subject in sys.argv[5:]:
        msg = EmailMessage()
        msg["Subject"], msg["From"], msg["To"] = subject, user, user
        msg.set_content("Body of: " + subject + "\n")
        refused = smtp.send_message(msg)
        if refused:
            sys.exit("refused: %r" % refused)
print("sent", len(sys.argv) - 5)
