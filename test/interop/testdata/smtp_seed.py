# The README's smtplib snippet, with only host, port and credentials taken
# from the command line:
#   smtp_seed.py HOST PORT USER PASSWORD starttls|starttls-default|ssl
import smtplib
import ssl
import sys
from email.mime.text import MIMEText

host, port, user, password, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]

msg = MIMEText("Hello, this is a test email.")
msg["Subject"], msg["From"], msg["To"] = "Test Mail", user, user

if mode == "starttls":
    with smtplib.SMTP(host, port) as smtp:
        smtp.starttls(context=ssl._create_unverified_context())  # self-signed by default
        smtp.login(user, password)
        smtp.send_message(msg)
elif mode == "starttls-default":
    # What most tutorials do: starttls() with no context (smtplib then
    # uses ssl._create_stdlib_context(), which does not verify).
    with smtplib.SMTP(host, port) as smtp:
        smtp.starttls()
        smtp.login(user, password)
        smtp.send_message(msg)
elif mode == "ssl":
    with smtplib.SMTP_SSL(host, port, context=ssl._create_unverified_context()) as smtp:
        smtp.login(user, password)
        smtp.send_message(msg)
else:
    sys.exit("unknown mode " + mode)
print("sent")
