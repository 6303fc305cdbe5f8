// capture.mjs - the viewer on a real capture (root): ecaptureq tls is running; curl --http2
// fetches a page from nghttpd over IPv4 and over IPv6, curl -6 --http1.1 one from a Python
// TLS server on ::1. The page must show the HTTP/2 frames decoded (GET /path, :status 200),
// one exchange row per request with status and latency, and the same header lists, status
// and latency as `ecaptureq watch --http --json` recorded from the same stream:
//   node tests/web/capture.mjs ECAPTUREQ AGENT_PORT H2_PORT4 H2_PORT6 H1_PORT6 OUTDIR
import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import fs from 'node:fs';

const [ECQ, AGENT, P4, P6, H6, OUT] = process.argv.slice(2);
let fails = 0;
const procs = [];
function check(cond, name, why) {
  console.log((cond ? 'ok - ' : 'not ok - ') + 'viewer capture: ' + name + (cond || !why ? '' : ' (' + why + ')'));
  if (!cond) fails++;
}
const sleep = ms => new Promise(r => setTimeout(r, ms));
const run = (cmd, args) => new Promise(r => { const p = spawn(cmd, args, { stdio: 'ignore' }); p.on('exit', code => r({ pid: p.pid, code })); });
async function until(page, fn, arg, ms = 15000) {
  try { await page.waitForFunction(fn, arg, { timeout: ms }); return true; } catch { return false; }
}

async function main() {
  const url = 'ws://127.0.0.1:' + AGENT + '/';
  // the C decoder on the same stream
  const w = spawn(ECQ, ['watch', '--http', '--json', '--pname', 'curl', url], { stdio: ['ignore', 'pipe', 'ignore'] });
  procs.push(w);
  let wtext = '';
  w.stdout.on('data', d => { wtext += d; });
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 800 } });
    const errors = [];
    page.on('pageerror', e => errors.push(e.message));
    await page.goto('http://127.0.0.1:' + AGENT + '/');
    await until(page, () => document.getElementById('state').textContent === 'connected', null, 10000);
    for (let i = 0; i < 100 && !wtext.includes('run_log'); i++) await sleep(50);
    const c4 = await run('curl', ['-sk', '--http2', '--max-time', '10', '-o', OUT + '/vc-h2.out', 'https://127.0.0.1:' + P4 + '/index.html']);
    const c6 = await run('curl', ['-sk', '-6', '--http2', '--max-time', '10', '-o', OUT + '/vc-h2v6.out', 'https://[::1]:' + P6 + '/v6.html']);
    const c1 = await run('curl', ['-sk', '-6', '--http1.1', '--max-time', '10', '-o', OUT + '/vc-h1v6.out', 'https://[::1]:' + H6 + '/h1v6']);
    check(c4.code === 0 && c6.code === 0 && c1.code === 0, 'the three curl requests were answered', [c4.code, c6.code, c1.code].join(' '));

    // the C decoder's exchanges for these pids
    let wx = [];
    for (let i = 0; i < 100; i++) {
      wx = wtext.split('\n').filter(l => l.startsWith('{"kind":"exchange"')).map(l => JSON.parse(l));
      if ([c4, c6, c1].every(c => wx.some(x => x.pid === c.pid))) break;
      await sleep(100);
    }
    const cx = wx.find(x => x.pid === c4.pid && x.path === '/index.html');
    check(cx && cx.protocol === 'HTTP/2' && cx.status === 200, 'watch --http recorded curl --http2\'s GET /index.html -> 200', JSON.stringify(cx || wx.map(x => x.pid + ' ' + x.path)));

    // the events table: curl's HTTP/2 frames decoded, typed by sender
    await page.fill('#filter', 'pid:' + c4.pid);
    await until(page, pid => [...document.querySelectorAll('#rows td.c-proc')].every(td => td.textContent.endsWith('(' + pid + ')')), c4.pid, 5000);
    await until(page, () => [...document.querySelectorAll('#rows td.c-prev')].some(td => td.textContent.includes('GET /index.html')) &&
                            [...document.querySelectorAll('#rows td.c-prev')].some(td => td.textContent.includes(':status 200')), null, 10000);
    const evs = await page.$$eval('#rows tr', trs => trs.map(tr => ({ type: tr.querySelector('.c-type').textContent, prev: tr.querySelector('.c-prev').textContent })));
    const req = evs.find(e => /HEADERS 1: GET \/index\.html/.test(e.prev)), resp = evs.find(e => /HEADERS 1: :status 200/.test(e.prev));
    for (const e of evs) console.log('# ' + e.type + ' | ' + e.prev.slice(0, 150));
    check(req && resp, 'curl --http2\'s events: the preview says "HEADERS 1: GET /index.html" and "HEADERS 1: :status 200", not HPACK bytes', evs.length + ' rows');
    check(req && req.type === 'HTTP/2 req' && resp && resp.type === 'HTTP/2 resp', 'its frames are typed by the side that sent them (req from curl, resp to it)');
    await page.screenshot({ path: OUT + '/viewer-h2-events.png' });

    // the exchanges view: one row per request, status and latency
    await page.click('#v-x');
    await page.fill('#filter', 'proc:curl');
    await until(page, () => document.querySelectorAll('#xrows tr').length >= 3, null, 10000);
    const xr = await page.$$eval('#xrows tr', trs => trs.map(tr => Object.fromEntries([...tr.cells].map(td => [td.className.split(' ')[0], td.textContent]))));
    for (const x of xr) console.log('# ' + Object.values(x).join(' | '));
    const row = xr.find(x => x['x-path'] === '/index.html');
    check(row && row['x-method'] === 'GET' && row['x-status'] === '200' && /^\d+(\.\d+)? (ms|s)$/.test(row['x-lat']) && row['x-proto'] === 'HTTP/2',
          'the exchanges view: curl --http2\'s GET /index.html, status 200, its latency', JSON.stringify(row));
    check(xr.some(x => x['x-path'] === '/v6.html' && x['x-status'] === '200') && xr.some(x => x['x-path'] === '/h1v6' && x['x-status'] === '200' && x['x-proto'] === 'HTTP/1.1'),
          'the IPv6 HTTP/2 and HTTP/1.1 exchanges have their rows too');
    await page.fill('#filter', 'proc:curl status:2xx method:get path:/index');
    await until(page, () => document.querySelectorAll('#xrows tr').length === 1, null, 5000);
    const one = await page.$$eval('#xrows tr', trs => trs.map(tr => tr.querySelector('.x-path').textContent));
    await page.fill('#filter', 'proc:curl status:5xx');
    const none = await until(page, () => document.querySelectorAll('#xrows tr').length === 0, null, 5000);
    check(one.length === 1 && one[0] === '/index.html' && none, 'filters status:2xx method:get path:/index narrow to that row; status:5xx to none', one.join(','));

    // its detail: both header lists as watch decoded them, the body, the latency watch measured
    await page.fill('#filter', 'proc:curl path:/index.html');
    await until(page, () => document.querySelectorAll('#xrows tr').length === 1, null, 5000);
    await page.click('#xrows tr:nth-child(1)');
    const tables = await page.$$eval('#body table.hdrs', ts => ts.map(t => [...t.rows].map(r => [r.cells[0].textContent, r.cells[1].textContent])));
    const body = await page.$$eval('#body pre.payload', ps => ps.map(p => p.textContent));
    const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
    check(cx && tables.length >= 2 && same(tables[0], cx.request_headers) && same(tables[1], cx.response_headers),
          'the page\'s HPACK decoding of the real exchange gives the header lists the C decoder gave (request ' + (tables[0] || []).length + ', response ' + (tables[1] || []).length + ' fields)',
          JSON.stringify({ page: tables, watch: cx && [cx.request_headers, cx.response_headers] }));
    const want = fs.readFileSync(OUT + '/vc-h2.out', 'utf8');
    check(body.some(b => b === want), 'the response body is shown', JSON.stringify(body));
    const lat = await page.evaluate(() => [...document.querySelectorAll('#meta dt')].find(d => d.textContent === 'latency').nextSibling.textContent);
    check(cx && cx.latency_ms !== null && Math.abs(parseFloat(lat) - cx.latency_ms) < 0.1, 'its latency is the one watch --http measured (' + lat + ', watch ' + (cx && cx.latency_ms) + ' ms)', lat);
    await page.screenshot({ path: OUT + '/viewer-h2.png' });

    // IPv6 with ports: never cut off (the whole value on hover, and in the detail)
    await page.click('#v-events');
    await page.fill('#filter', 'pid:' + c6.pid);
    await until(page, pid => document.querySelectorAll('#rows tr').length > 0 &&
                             [...document.querySelectorAll('#rows td.c-proc')].every(td => td.textContent.endsWith('(' + pid + ')')), c6.pid, 5000);
    const addrs = await page.$$eval('#rows td.c-addr', tds => tds.map(td => ({ text: td.textContent, title: td.title, fits: td.scrollWidth <= td.clientWidth })));
    check(addrs.length > 0 && addrs.every(a => a.text.includes('[::1]:') && (a.fits || a.title === a.text)),
          'IPv6 addresses with ports: each src → dst cell fits or has the whole value as its title', JSON.stringify(addrs[0]));
    check(errors.length === 0, 'no page error', errors.join(' | '));
  } finally {
    await browser.close();
  }
}

main().catch(e => { console.log('not ok - viewer capture: ran to its end (' + e.message.split('\n')[0] + ')'); fails++; })
  .finally(() => { for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL'); process.exit(fails ? 1 : 0); });
