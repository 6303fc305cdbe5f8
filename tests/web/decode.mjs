// decode.mjs - the viewer's own protobuf reader, taken out of web/viewer.html as it is,
// against messages our C encoder and protoc wrote, then fed 200,000 mutated messages:
//   node tests/web/decode.mjs web/viewer.html DIR   (DIR: unit's samples and ext.bin)
import fs from 'node:fs';

const [html, dir] = process.argv.slice(2);
const page = fs.readFileSync(html, 'utf8');
const a = page.indexOf('/* ---- protobuf'), b = page.indexOf('/* ---- text helpers');
let fails = 0;
const check = (cond, name, why) => { console.log((cond ? 'ok - ' : 'not ok - ') + 'viewer decoder: ' + name + (cond || !why ? '' : ' (' + why + ')')); if (!cond) fails++; };
if (a < 0 || b < a) { check(false, 'found in the page'); process.exit(1); }
const { decodeEntry, entries } = new Function('utf8', page.slice(a, b) + 'return { decodeEntry, entries };')(new TextDecoder('utf-8'));
const bin = name => new Uint8Array(fs.readFileSync(dir + '/' + name));
const txt = u => Buffer.from(u).toString('latin1');

let e = decodeEntry(bin('pb/event.bin'));
check(e.kind === 'event' && e.logType === 2 && e.v.ts === 1795663888085399074n && e.v.uuid === '2785_2785_curl_5' &&
      e.v.src === '127.0.0.1' && e.v.sport === 34722 && e.v.dst === '::1' && e.v.dport === 8443 && e.v.pid === 2785n &&
      e.v.pname === 'curl' && e.v.type === 1 && e.v.length === 27 && txt(e.v.payload) === 'GET / HTTP/1.1\r\nHost: a\r\n\r\n',
      'every field of a C-encoded event, the 19-digit timestamp exact', JSON.stringify(e, (k, v) => typeof v === 'bigint' ? String(v) : v));
e = decodeEntry(bin('pb/heartbeat.bin'));
check(e.kind === 'heartbeat' && e.logType === 0 && e.v.count === 3n && e.v.message === 'heartbeat:3', 'a heartbeat (log_type 0 omitted)');
e = decodeEntry(bin('pb/negative.bin'));
check(e.v.ts === -9223372036854775808n && e.v.count === -1n, 'negative int64 (10-byte varints)');
e = decodeEntry(bin('pb/runlog.bin'));
check(e.kind === 'log' && e.v.startsWith('café run log'), 'a UTF-8 run log', e.v);
e = decodeEntry(bin('pb/big.bin'));
check(e.v.ts === 9223372036854775807n && e.v.sport === 4294967295 && e.v.length === 2097152 && e.v.payload.length >= 2097152,
      'a 2 MiB payload with maximal values');
e = decodeEntry(bin('pb/emptyevent.bin'));
check(e.kind === 'event' && e.v.uuid === '' && e.v.payload.length === 0, 'an empty event');
e = decodeEntry(bin('ext.bin'));
check(e.kind === 'event' && e.v.ts === 42n && e.v.uuid === 'u' && e.v.pid === -7n && e.v.pname === 'x' && txt(e.v.payload) === 'abc',
      'unknown fields of every wire type are skipped (a message from tests/extended.proto)');

// a batch (the subprotocol ecaptureq.batch): each LogEntry as field 15 of a wrapper
const wrap = list => Buffer.concat(list.map(m => { const v = []; let n = m.length; while (n >= 0x80) { v.push(n & 0x7f | 0x80); n = Math.floor(n / 128); } v.push(n); return Buffer.concat([Buffer.from([0x7a, ...v]), m]); }));
const parts = ['pb/event.bin', 'pb/heartbeat.bin', 'pb/big.bin', 'pb/runlog.bin'].map(bin);
const got = entries(new Uint8Array(wrap(parts))).map(decodeEntry);
check(got.length === 4 && got[0].kind === 'event' && got[0].v.uuid === '2785_2785_curl_5' && got[1].kind === 'heartbeat' &&
      got[2].v.payload.length >= 2097152 && got[3].kind === 'log', 'a batch of four (an event, a heartbeat, 2 MiB, a run log) gives the four, in order');
check(entries(bin('pb/event.bin')).length === 1 && entries(bin('pb/heartbeat.bin')).length === 1, 'a message that is not a batch is one entry');
const refusesB = m => { try { entries(m); return false; } catch (err) { return err instanceof Error && !!err.message; } };
check(refusesB(new Uint8Array([0x7a, 5, 1, 2])) && refusesB(new Uint8Array([0x7a, 0, 0x72, 0])) && refusesB(new Uint8Array([0x7a, 0, 0x78, 1])),
      'a batch cut short, with another field or another wire type is refused with a reason');

// mutations: every outcome is a decoded entry or an Error with a message, never a hang
let seed = 12345;
const rnd = n => { seed = (seed * 1103515245 + 12345) >>> 0; return seed % n; };
const seeds = ['pb/event.bin', 'pb/heartbeat.bin', 'pb/negative.bin', 'pb/runlog.bin', 'pb/emptyevent.bin', 'ext.bin'].map(bin)
  .concat([new Uint8Array(wrap(['pb/event.bin', 'pb/heartbeat.bin', 'pb/runlog.bin'].map(bin)))]);
let decoded = 0, refused = 0, other = [];
for (let i = 0; i < 200000; i++) {
  const s = seeds[rnd(seeds.length)];
  let m = s.slice(0, Math.min(s.length, 4096));
  switch (rnd(4)) {
    case 0: m[rnd(m.length || 1)] ^= 1 << rnd(8); break;
    case 1: m = m.slice(0, rnd(m.length + 1)); break;
    case 2: m = Uint8Array.from({ length: rnd(64) }, () => rnd(256)); break;
    default: for (let k = 0; k < 4; k++) m[rnd(m.length || 1)] = rnd(256);
  }
  try { entries(m).forEach(decodeEntry); decoded++; } catch (err) { if (err instanceof Error && err.constructor === Error && err.message) refused++; else other.push(String(err)); }
}
check(other.length === 0 && decoded + refused === 200000 && refused > 1000,
      '200,000 mutated messages: ' + decoded + ' decoded, ' + refused + ' refused with a reason, nothing else',
      other.slice(0, 3).join(' | '));
console.log('# decode.mjs: every check ran');
process.exit(fails ? 1 : 0);
