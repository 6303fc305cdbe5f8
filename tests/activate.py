#!/usr/bin/python3
"""activate.py CONF PROGRAM ARGS...: starts a server the way systemd's socket activation
does, on a port the kernel picks: binds a listening socket on 127.0.0.1 port 0, writes
CONF.run (CONF with @PORT@ replaced by that port), prints "ready PORT", and executes
PROGRAM ARGS (with CONF.run for @CONF@) with the socket as fd 3, LISTEN_FDS=1 and
LISTEN_PID its own pid (the pid stays across exec). Connections made before the
program accepts wait in the socket's queue."""
import os, socket, sys

conf, argv = sys.argv[1], sys.argv[2:]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(128)
port = s.getsockname()[1]
with open(conf) as f, open(conf + ".run", "w") as out:
    out.write(f.read().replace("@PORT@", str(port)))
os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)
env = dict(os.environ, LISTEN_FDS="1", LISTEN_PID=str(os.getpid()))
print("ready", port, flush=True)
os.execvpe(argv[0], [a.replace("@CONF@", conf + ".run") for a in argv], env)
