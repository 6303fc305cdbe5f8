// node_tls.js - Node TLS clients that write when real programs do, for the capture tests.
//   node node_tls.js MODE PORT PATH     a GET of PATH from 127.0.0.1:PORT (certificate not
//                                       checked), the answer to stdout; MODE is when it is written:
//     early    at once, before the handshake (Node holds it until the handshake is done)
//     secure   in the 'secureConnect' handler: Node runs it from inside SSL_read, which
//              ended the handshake, so the write is a TLS call inside a TLS call
//     promise  in a promise continuation started there (how npm's agent hands the socket
//              on): run in the same place, when that callback's microtasks run
//     later    in a later turn of the event loop (setImmediate)
//     reset    after the peer reset the connection and the kernel closed the socket (it is
//              written anyway: Node learns of the reset only on its next read); nothing answers
//   node node_tls.js reset-server CERT KEY
//                                       a TLS server on 127.0.0.1 (port printed as "ready PORT")
//                                       that resets each connection once its handshake is done
'use strict';
const fs = require('fs');
const net = require('net');
const tls = require('tls');

const mode = process.argv[2];
if (mode === 'reset-server') {
  const [cert, key] = process.argv.slice(3).map(f => fs.readFileSync(f));
  const srv = net.createServer(sock => {
    const t = new tls.TLSSocket(sock, {isServer: true, cert, key});
    t.on('secure', () => sock.resetAndDestroy());
    t.on('error', () => {});
  });
  srv.listen(0, '127.0.0.1', () => console.log(`ready ${srv.address().port}`));
} else {
  const [port, path] = [+process.argv[3], process.argv[4]];
  const req = `GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`;
  const s = tls.connect({host: '127.0.0.1', port, rejectUnauthorized: false});
  // whether the kernel still has our end of the connection (a closed socket is not listed)
  const listed = () => {
    const me = '0100007F:' + s.localPort.toString(16).toUpperCase().padStart(4, '0');
    return fs.readFileSync('/proc/net/tcp', 'utf8').split('\n').some(l => l.trim().split(/\s+/)[1] === me);
  };
  if (mode === 'early') s.write(req);
  s.on('secureConnect', () => {
    if (mode === 'secure') s.write(req);
    else if (mode === 'promise') Promise.resolve().then(() => s.write(req));
    else if (mode === 'later') setImmediate(() => s.write(req));
    else if (mode === 'reset') setImmediate(() => {
      while (listed()) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
      s.write(req);
      s.destroy();
    });
  });
  s.on('data', d => process.stdout.write(d));
  s.on('end', () => s.end());
  s.on('error', e => { if (mode !== 'reset') { console.error(e.message); process.exitCode = 1; } });
}
