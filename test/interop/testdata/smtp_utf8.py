# Sends an internationalised message (UTF-8 addresses and header) through
# submission with STARTTLS; smtplib adds SMTPUTF8 and BODY=8BITMIME to
# MAIL FROM by itself because the recipient address is not ASCII.
#   smtp_utf8.py HOST PORT USER PASSWORD RCPT SUBJECT
import smtplib
import ssl
import sys
from email.message import EmailMessage

host, port, user, password, rcpt, subject = sys.argv[1], int(sys.argv[2]), *sys.argv[3:7]

msg = EmailMessage()
msg["Subject"] = subject
msg["From"] = user
msg["To"] = rcpt
msg.set_content("你好，这是一封测试邮件。\n")

with smtplib.SMTP(host, port) as smtp:
    smtp.starttls(context=ssl._create_unverified_context())
    smtp.login(user, password)
    if not smtp.has_extn("smtputf8"):
        sys.exit("server does not advertise SMTPUTF8")
    refused = smtp.send_message(msg)
    if refused:
        sys.exit("refused: %r" % refused)
print("sent")
