# COMPRESS=DEFLATE (RFC 4978) the way zlib-based clients do it: log in
# over imaps, send COMPRESS DEFLATE, then one NOOP compressed with zlib and
# flushed with FLUSH (sync: Z_SYNC_FLUSH; partial: Z_PARTIAL_FLUSH, which
# mbsync/isync uses). Prints the decompressed reply to the NOOP, or
# "TIMEOUT" if none came.
#   imap_compress.py HOST PORT USER PASSWORD sync|partial
import socket
import ssl
import sys
import zlib

host, port, user, password, mode = sys.argv[1], int(sys.argv[2]), *sys.argv[3:6]
flush = {"sync": zlib.Z_SYNC_FLUSH, "partial": zlib.Z_PARTIAL_FLUSH}[mode]

# Only keeps a server that never answers from hanging the test.
GUARD = 15

ctx = ssl._create_unverified_context()
sock = ctx.wrap_socket(socket.create_connection((host, port)))
sock.settimeout(GUARD)
buf = b""


def read_until(tag, inflate=None):
    """Reads until the reply line starting with tag; returns it and what
    came before, keeping what follows in buf."""
    global buf
    while True:
        start = 0
        while (end := buf.find(b"\r\n", start)) >= 0:
            if buf[start:].startswith(tag + b" "):
                out, buf = buf[:end + 2], buf[end + 2:]
                return out
            start = end + 2
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return None
        if not chunk:
            sys.exit("connection closed; read so far: %r" % buf)
        buf += inflate.decompress(chunk) if inflate else chunk


read_until(b"*")
quoted = '"' + password.replace("\\", "\\\\").replace('"', '\\"') + '"'
sock.sendall(("a LOGIN %s %s\r\n" % (user, quoted)).encode())
reply = read_until(b"a")
if reply is None or b"a OK" not in reply:
    sys.exit("LOGIN failed: %r" % reply)
sock.sendall(b"b COMPRESS DEFLATE\r\n")
reply = read_until(b"b")
if reply is None or b"b OK" not in reply:
    sys.exit("COMPRESS refused: %r" % reply)

deflate = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
inflate = zlib.decompressobj(-15)
buf = inflate.decompress(buf)  # anything after the OK is compressed
sock.sendall(deflate.compress(b"c NOOP\r\n") + deflate.flush(flush))
reply = read_until(b"c", inflate)
print("TIMEOUT" if reply is None else reply.decode("utf-8", "replace").strip())
