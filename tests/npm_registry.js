// npm_registry.js - a stand-in for the npm registry over HTTPS, for the capture tests:
// npm view and npm install talk to it as to registry.npmjs.org.
//   node npm_registry.js CERT KEY TARBALLS_DIR
// Listens on 127.0.0.1, a port the kernel picks, printed as "ready PORT". Each
// TARBALLS_DIR/NAME-VERSION.tgz (made by npm pack) is package NAME at VERSION:
// GET /NAME answers its metadata (the packument: versions, dist.tarball, integrity),
// GET /NAME/-/NAME-VERSION.tgz the tarball; anything else 404. Every answer says
// which request it answers (X-Request: METHOD PATH), so a test can pair them, and each
// request is logged on stdout as "METHOD PATH".
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const https = require('https');
const path = require('path');

const [cert, key, dir] = process.argv.slice(2);
const pkgs = {};
for (const f of fs.readdirSync(dir)) {
  const m = /^(.+)-(\d+\.\d+\.\d+)\.tgz$/.exec(f);
  if (!m) continue;
  const data = fs.readFileSync(path.join(dir, f));
  (pkgs[m[1]] = pkgs[m[1]] || {})[m[2]] = {
    file: f,
    data,
    integrity: 'sha512-' + crypto.createHash('sha512').update(data).digest('base64'),
    shasum: crypto.createHash('sha1').update(data).digest('hex'),
  };
}

function packument(name, base) {
  const versions = {};
  for (const [v, t] of Object.entries(pkgs[name])) {
    versions[v] = {
      name, version: v, description: 'stand-in package ' + name,
      dist: {tarball: `${base}/${name}/-/${t.file}`, integrity: t.integrity, shasum: t.shasum},
    };
  }
  const latest = Object.keys(versions).sort().pop();
  return {name, 'dist-tags': {latest}, versions, description: 'stand-in package ' + name};
}

const srv = https.createServer({cert: fs.readFileSync(cert), key: fs.readFileSync(key)}, (req, res) => {
  const url = decodeURIComponent(req.url.split('?')[0]);
  const base = `https://127.0.0.1:${srv.address().port}`;
  const head = {'X-Request': `${req.method} ${url}`};
  console.log(`${req.method} ${url}`);
  let m;
  if ((m = /^\/([^/]+)$/.exec(url)) && pkgs[m[1]]) {
    const body = JSON.stringify(packument(m[1], base));
    res.writeHead(200, {...head, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body)});
    res.end(body);
  } else if ((m = /^\/([^/]+)\/-\/(.+\.tgz)$/.exec(url)) && pkgs[m[1]] &&
             Object.values(pkgs[m[1]]).some(t => t.file === m[2])) {
    const t = Object.values(pkgs[m[1]]).find(t => t.file === m[2]);
    res.writeHead(200, {...head, 'Content-Type': 'application/octet-stream', 'Content-Length': t.data.length});
    res.end(t.data);
  } else {
    const body = JSON.stringify({error: 'Not found'});
    res.writeHead(404, {...head, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body)});
    res.end(body);
  }
});
srv.listen(0, '127.0.0.1', () => console.log(`ready ${srv.address().port}`));
