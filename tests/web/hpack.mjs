// hpack.mjs - the viewer's own HPACK decoder, taken out of web/viewer.html as it is, against
// RFC 7541 Appendix C (C.2-C.6, with and without Huffman) as the C decoder decoded it
// (tests/unit.c hpack_samples: its header lists, dynamic tables and unknown references),
// the static table and every Huffman code as C has them, then 100,000 mutated blocks:
//   node tests/web/hpack.mjs web/viewer.html DIR   (DIR: unit's samples, hpack.json)
import fs from 'node:fs';

const [html, dir] = process.argv.slice(2);
const page = fs.readFileSync(html, 'utf8');
const a = page.indexOf('/* ---- HPACK'), b = page.indexOf('/* ---- HTTP/2 frames');
let fails = 0;
const check = (cond, name, why) => { console.log((cond ? 'ok - ' : 'not ok - ') + 'viewer HPACK: ' + name + (cond || !why ? '' : ' (' + why + ')')); if (!cond) fails++; };
if (a < 0 || b < a) { check(false, 'found in the page'); process.exit(1); }
const { Hpack, huffman, HP_STATIC } = new Function('utf8', page.slice(a, b) + 'return { Hpack, huffman, HP_STATIC };')(new TextDecoder('utf-8'));
const C = JSON.parse(fs.readFileSync(dir + '/hpack.json', 'utf8'));
const unhex = s => Uint8Array.from(s.replace(/\s+/g, '').match(/../g), h => parseInt(h, 16));
const enc = s => new TextEncoder().encode(s).length;
const pad3 = n => String(n).padStart(3, ' ');
// the list and table in the C test's shape (the RFC's way of printing a table)
const listText = l => l.map(h => (h.nameUnknown && !h.name ? '' : h.name) + ': ' + h.value + (h.unknown || h.nameUnknown ? ' (unknown)' : '') + '\n').join('');
const tableText = hp => hp.dyn.map((e, i) => '[' + pad3(i + 1) + '] (s = ' + pad3(e.size) + ') ' + e.name + ': ' + e.value + '\n').join('') + '      Table size: ' + pad3(hp.size) + '\n';

let hp = null, rfc = 0;
for (const s of C.steps) {
  if (s.reset) { hp = new Hpack(); hp.cap = s.cap; }
  let list, err = '';
  try { list = listText(hp.decode(unhex(s.hex))); } catch (e) { err = e.message; }
  const table = tableText(hp);
  check(!err && list === s.list && table === s.table && hp.unknown === s.unknown,
        s.name + ': the header list and dynamic table the C decoder has' + (s.unknown ? ', ' + s.unknown + ' unknown' : ''),
        err || JSON.stringify({ list, table, unknown: hp.unknown }));
  if (/^C\./.test(s.name)) rfc++;
}
check(rfc === 16, 'all 16 steps of C.2-C.6 ran', String(rfc));
check(HP_STATIC.length === 61 && C.static.every(([n, v], i) => HP_STATIC[i][0] === n && HP_STATIC[i][1] === v), 'the static table (Appendix A) is the C decoder\'s');
const bad = C.huffman.map((h, s) => { try { const o = huffman(unhex(h)); return o.length === 1 && o[0] === s ? -1 : s; } catch { return s; } }).filter(s => s >= 0);
check(C.huffman.length === 256 && bad.length === 0, 'each of the 256 Huffman codes (Appendix B) decodes to its symbol', 'wrong: ' + bad.slice(0, 10));
const refuses = h => { try { huffman(unhex(h)); return false; } catch (e) { return e instanceof Error; } };
check(refuses('ffffffff') && refuses('1fff') && refuses('00'), 'Huffman: EOS, padding over 7 bits, padding of 0s are refused');
const late = new Hpack();
late.decode(unhex('be'));
check(late.unknown === 1, 'a reference to a dynamic entry never seen is unknown, never a value');

// mutations of the RFC blocks: a list or an Error with a message, never anything else
let seed = 7, decoded = 0, refused = 0;
const other = [];
const rnd = n => { seed = (seed * 1103515245 + 12345) >>> 0; return seed % n; };
const blocks = C.steps.map(s => unhex(s.hex));
for (let i = 0; i < 100000; i++) {
  let m = blocks[rnd(blocks.length)].slice();
  if (rnd(2)) m[rnd(m.length)] ^= 1 << rnd(8); else m = m.slice(0, rnd(m.length + 1));
  const d = new Hpack();
  try { d.decode(m); decoded++; } catch (e) { if (e instanceof Error && e.constructor === Error && e.message) refused++; else other.push(String(e)); }
}
check(other.length === 0 && decoded + refused === 100000 && refused > 100,
      '100,000 mutated blocks: ' + decoded + ' decoded, ' + refused + ' refused with a reason, nothing else', other.slice(0, 3).join(' | '));
console.log('# hpack.mjs: every check ran');
process.exit(fails ? 1 : 0);
