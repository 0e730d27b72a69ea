#!/usr/bin/env python3
"""A minimal PostgreSQL wire-protocol client for tests that need the
extended protocol step by step (psql 15 cannot bind a named portal, nor
execute one in parts): a named portal bound, run for a few rows, and run
again after another statement.

Usage: pgwire.py SOCKET_DIR PORT USER DATABASE < script

Script lines (messages are sent when a line S or Q is reached):
  Q sql                 a simple-protocol query
  P statement sql       Parse (no parameters)
  B portal statement    Bind (no parameters, text results)
  E portal rows         Execute, at most rows rows (0: all)
  C portal              Close the portal
  S                     Sync: send what was queued, read to ReadyForQuery

Output, one line each: "row v1|v2|...", "complete TAG", "suspended",
"error SQLSTATE message".  Trust authentication only.
"""
import socket
import struct
import sys


def message(kind, body):
    return kind + struct.pack('!i', len(body) + 4) + body


def cstr(text):
    return text.encode() + b'\0'


class Connection:
    def __init__(self, path, user, database):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(path)
        body = struct.pack('!i', 196608) + cstr('user') + cstr(user) + \
            cstr('database') + cstr(database) + b'\0'
        self.sock.sendall(struct.pack('!i', len(body) + 4) + body)
        self.read_until_ready(quiet=True)

    def recv_exactly(self, n):
        data = b''
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise EOFError('server closed the connection')
            data += chunk
        return data

    def read_until_ready(self, quiet=False):
        while True:
            kind = self.recv_exactly(1)
            length = struct.unpack('!i', self.recv_exactly(4))[0]
            body = self.recv_exactly(length - 4)
            if kind == b'Z':
                return
            if kind == b'R' and struct.unpack('!i', body[:4])[0] != 0:
                raise RuntimeError('only trust authentication is supported')
            if quiet and kind != b'E':
                continue
            if kind == b'D':
                count = struct.unpack('!h', body[:2])[0]
                pos = 2
                values = []
                for _ in range(count):
                    size = struct.unpack('!i', body[pos:pos + 4])[0]
                    pos += 4
                    if size < 0:
                        values.append('')
                    else:
                        values.append(body[pos:pos + size].decode())
                        pos += size
                print('row ' + '|'.join(values))
            elif kind == b'C':
                print('complete ' + body.rstrip(b'\0').decode())
            elif kind == b's':
                print('suspended')
            elif kind == b'E':
                fields = {chr(f[0]): f[1:].decode() for f in body.split(b'\0') if f}
                print('error %s %s' % (fields.get('C'), fields.get('M')))


def main():
    sockdir, port, user, database = sys.argv[1:5]
    conn = Connection('%s/.s.PGSQL.%s' % (sockdir, port), user, database)
    queued = []
    for line in sys.stdin:
        line = line.rstrip('\n')
        if not line.strip():
            continue
        kind, _, rest = line.partition(' ')
        if kind == 'Q':
            conn.sock.sendall(message(b'Q', cstr(rest)))
            conn.read_until_ready()
        elif kind == 'P':
            name, _, sql = rest.partition(' ')
            queued.append(message(b'P', cstr(name) + cstr(sql) + struct.pack('!h', 0)))
        elif kind == 'B':
            portal, statement = rest.split(' ')
            queued.append(message(b'B', cstr(portal) + cstr(statement) +
                                  struct.pack('!hhh', 0, 0, 0)))
        elif kind == 'E':
            portal, rows = rest.split(' ')
            queued.append(message(b'E', cstr(portal) + struct.pack('!i', int(rows))))
        elif kind == 'C':
            queued.append(message(b'C', b'P' + cstr(rest)))
        elif kind == 'S':
            conn.sock.sendall(b''.join(queued) + message(b'S', b''))
            queued = []
            conn.read_until_ready()
        else:
            raise SystemExit('pgwire.py: unknown script line: ' + line)
    conn.sock.sendall(message(b'X', b''))


if __name__ == '__main__':
    main()
