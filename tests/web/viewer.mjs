// viewer.mjs - the browser viewer in Debian's headless Chromium (playwright-core):
//   node tests/web/viewer.mjs ECAPTUREQ EMBED_VIEWER_BIN OUTDIR H2_STREAM_BIN
// Starts its own servers on ports the kernel picks (gen, the embed host, an HTTP server
// for a foreign page), prints "ok - ..." / "not ok - ..." lines, screenshots in OUTDIR.
import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import http from 'node:http';
import fs from 'node:fs';

const [ECQ, EMBED, OUT, H2S] = process.argv.slice(2);
const procs = [];
let fails = 0;
function check(cond, name, why) {
  console.log((cond ? 'ok - ' : 'not ok - ') + 'viewer: ' + name + (cond || !why ? '' : ' (' + why + ')'));
  if (!cond) fails++;
}
const sleep = ms => new Promise(r => setTimeout(r, ms));

// a process whose output names its port: "listening on ws://127.0.0.1:PORT/" or "ready PORT"
function start(name, cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    procs.push(p);
    const log = fs.createWriteStream(OUT + '/viewer-' + name + '.log');
    let text = '', done = false;
    const t = setTimeout(() => { if (!done) reject(new Error(name + ': the test\'s own server did not start')); }, 10000);
    const feed = d => {
      log.write(d); text += d;
      const m = /listening on ws:\/\/127\.0\.0\.1:(\d+)\/|^ready (\d+)/m.exec(text);
      if (m && !done) { done = true; clearTimeout(t); resolve({ p, port: Number(m[1] || m[2]), log: () => text }); }
    };
    p.stdout.on('data', feed); p.stderr.on('data', feed);
    p.on('exit', () => { if (!done) { clearTimeout(t); reject(new Error(name + ' exited before listening: ' + text)); } });
  });
}
function stop(s) { return new Promise(r => { if (s.p.exitCode !== null) return r(); s.p.on('exit', r); s.p.kill('SIGTERM'); }); }

// what a second, independent consumer recorded: ecaptureq watch --json
function record(port) {
  const p = spawn(ECQ, ['watch', '--json', 'ws://127.0.0.1:' + port + '/'], { stdio: ['ignore', 'pipe', 'ignore'] });
  procs.push(p);
  const events = [];
  let buf = '';
  p.stdout.on('data', d => {
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl); buf = buf.slice(nl + 1);
      if (line.includes('"kind":"event"')) events.push(JSON.parse(line.replace(/"timestamp":(\d+)/, '"timestamp":"$1"')));
    }
  });
  return { p, events };
}

async function until(page, fn, arg, ms = 15000) {
  try { await page.waitForFunction(fn, arg, { timeout: ms }); return true; } catch { return false; }
}
const rowCount = page => page.evaluate(() => document.querySelectorAll('#rows tr').length);
const state = page => page.evaluate(() => document.getElementById('state').textContent);

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--host-resolver-rules=MAP evil.test 127.0.0.1'],
  });
  try {
    await live(browser);
    await load(browser);
    await synthetic(browser);
    await hostile(browser);
    await foreign(browser);
    await token(browser);
  } finally {
    await browser.close();
  }
}

// the page, the events, the detail, the filter, a restart of the agent
async function live(browser) {
  const N = 300;
  const gen = await start('gen', ECQ, ['gen', '--ecaptureq', 'ws://127.0.0.1:0/', '--events', String(N), '--wait-clients', '2', '--rate', '2000', '--heartbeat', '1', '--stay']);
  const rec = record(gen.port);
  const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 }, acceptDownloads: true });
  const page = await ctx.newPage();
  const errors = [];
  page.on('console', m => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', e => errors.push(e.message));
  const resp = await page.goto('http://127.0.0.1:' + gen.port + '/');
  const csp = resp.headers()['content-security-policy'] || '';
  check(resp.status() === 200 && /default-src 'none'/.test(csp) && /script-src 'nonce-[A-Za-z0-9+/]{24}'/.test(csp) && /connect-src 'self'/.test(csp) && /worker-src blob:;/.test(csp),
        'a plain GET of the endpoint answers 200 with a policy that allows no outside source (workers from blob: only: the page\'s own)', resp.status() + ' ' + csp);
  const got = await until(page, n => document.querySelectorAll('#rows tr').length === n, N);
  await sleep(300); // nothing more may come
  check(got && await rowCount(page) === N, 'gen sends ' + N + ' events: the table shows exactly ' + N + ' rows', 'rows ' + await rowCount(page));
  check(await state(page) === 'connected', 'the state says connected', await state(page));
  check(await until(page, () => /heartbeat:\d+/.test(document.getElementById('beat').textContent), null, 5000), 'heartbeats are shown');
  check(await until(page, () => /listening on ws:/.test(document.getElementById('log').textContent), null, 5000), 'the run log panel holds the agent\'s run log');
  await page.click('#logs summary');
  const counts = await page.textContent('#counts');
  check(counts.includes('holding ' + N + ' of ' + N), 'the counters say what is held', counts);

  // the detail pane: a request (headers split out) and its exact bytes in hex
  for (let t = 0; t < 50 && rec.events.length < N; t++) await sleep(100);
  check(rec.events.length === N, 'the recording consumer got all ' + N + ' events too', String(rec.events.length));
  const pick = rec.events[7];
  const want = Buffer.from(pick.payload, 'base64');
  const seqOf = N - 7; // newest on top: the 8th event sent is row N-7 from the top (1-based)
  await page.click('#rows tr:nth-child(' + seqOf + ')');
  const meta = await page.textContent('#meta');
  check(meta.includes(pick.uuid) && meta.includes(String(pick.pid)) && meta.includes(pick.timestamp + ' ns'),
        'a selected row shows its metadata (uuid, pid, timestamp in ns)', meta);
  const first = await page.textContent('#body pre');
  const head = want.toString('latin1').split('\r\n')[0];
  check(first === head && await page.locator('#body table.hdrs tr').count() >= 1,
        'an HTTP/1.x payload is shown with its start line and header fields split out', first + ' / ' + head);
  await page.click('#as-hex');
  const dump = await page.textContent('#body pre.hex');
  const bytes = Buffer.from(dump.split('\n').map(l => l.slice(10, 10 + 49).replace(/\s+/g, '')).join(''), 'hex');
  check(bytes.equals(want), 'the hex view of the selected row is the payload, byte for byte', bytes.length + ' vs ' + want.length);
  await page.click('#as-text');
  await page.screenshot({ path: OUT + '/viewer.png' });

  // the filter
  const byPid = rec.events.filter(e => e.pid === 1001).length;
  await page.fill('#filter', 'pid:1001');
  check(await until(page, n => document.querySelectorAll('#rows tr').length === n, byPid) && byPid > 0 && byPid < N,
        'filter pid:1001 narrows the table to that process (' + byPid + ' rows)', String(await rowCount(page)));
  const bySub = rec.events.filter(e => Buffer.from(e.payload, 'base64').toString('latin1').toLowerCase().includes('/items/4')).length;
  await page.fill('#filter', 'type:response');
  const byType = rec.events.filter(e => e.type === 3).length;
  check(await until(page, n => document.querySelectorAll('#rows tr').length === n, byType) && byType > 0 && byType < N,
        'filter type:response shows the ' + byType + ' responses', String(await rowCount(page)));
  await page.fill('#filter', '/items/4');
  check(await until(page, n => document.querySelectorAll('#rows tr').length === n, bySub) && bySub > 0,
        'a payload substring narrows it to the ' + bySub + ' events that contain it', String(await rowCount(page)));
  await page.fill('#filter', '');
  check(await until(page, n => document.querySelectorAll('#rows tr').length === n, N), 'clearing the filter shows all rows again');

  // pause holds the table still; download gives what is held as JSON lines
  await page.click('#pause');
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
  const lines = fs.readFileSync(await dl.path(), 'utf8').trim().split('\n').map(l => JSON.parse(l.replace(/"timestamp":(\d+)/, '"timestamp":"$1"')));
  check(lines.length === N && lines.every((l, i) => l.payload === rec.events[i].payload && l.timestamp === rec.events[i].timestamp && l.uuid === rec.events[i].uuid),
        'Download gives the ' + N + ' held events as JSON lines, equal to what watch --json recorded', String(lines.length));
  check(errors.length === 0, 'the page loaded and ran with no console error (CSP included)', errors.join(' | '));

  // the agent restarts on the same port: the page reconnects on its own
  await stop(gen);
  await until(page, () => /disconnected|not connected/.test(document.getElementById('state').textContent), null, 5000);
  await page.click('#pause'); // resume
  const gen2 = await start('gen2', ECQ, ['gen', '--ecaptureq', 'ws://127.0.0.1:' + gen.port + '/', '--events', '5', '--wait-clients', '1', '--stay']);
  const back = await until(page, n => document.getElementById('state').textContent === 'connected' &&
                                     document.querySelectorAll('#rows tr').length === n, N + 5, 20000);
  check(back, 'after the agent restarts, the page reconnects by itself and adds its events', await state(page) + ', rows ' + await rowCount(page));
  await stop(gen2);
  await ctx.close();

  // many events: the page holds a bounded buffer and the table a bounded number of rows
  const M = 25000;
  const g4 = await start('gen4', ECQ, ['gen', '--ecaptureq', 'ws://127.0.0.1:0/', '--events', String(M), '--wait-clients', '1', '--stay']);
  const big = await browser.newPage();
  await big.goto('http://127.0.0.1:' + g4.port + '/');
  const all = await until(big, m => document.getElementById('counts').textContent.includes(' of ' + m + ' events'), M, 60000);
  const bc = await big.textContent('#counts'), brows = await rowCount(big);
  check(all && brows === 1000 && bc.includes('holding 20000 of ' + M) && bc.includes('5000 oldest let go'),
        M + ' events: the table keeps the newest 1000 rows, the page the newest 20000 events, and says so', bc + ', rows ' + brows);
  const top = await big.textContent('#rows tr:nth-child(1) .c-prev');
  check(top.startsWith('HTTP/1.1 200 OK') && (await big.textContent('#rows tr:nth-child(1000) .c-prev')).startsWith('POST /items/' + (M - 1000)),
        'the rows kept are the newest, in order', top);
  await big.close();
  await stop(g4);

  // a narrow screen: no sideways scrolling, the rows still there
  const g3 = await start('gen3', ECQ, ['gen', '--ecaptureq', 'ws://127.0.0.1:0/', '--events', '40', '--wait-clients', '1', '--stay']);
  const narrow = await browser.newPage({ viewport: { width: 390, height: 800 } });
  await narrow.goto('http://127.0.0.1:' + g3.port + '/');
  const rowsOk = await until(narrow, () => document.querySelectorAll('#rows tr').length === 40, null);
  await narrow.click('#rows tr:nth-child(1)');
  const fits = await narrow.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
  await narrow.screenshot({ path: OUT + '/viewer-narrow.png' });
  check(rowsOk && fits, 'on a 390 px wide screen the table and the detail fit without sideways scrolling');
  await narrow.close();
  await stop(g3);
}

// what the counters say: "showing S, holding H of T events (L oldest let go, U of them unread)"
async function tally(page) {
  const c = await page.textContent('#counts'), num = re => Number((re.exec(c) || [0, 0])[1]);
  return { c, shown: num(/showing (\d+)/), held: num(/holding (\d+)/), total: num(/ of (\d+) events/),
           gone: num(/\((\d+) oldest let go/), unread: num(/, (\d+) of them unread/), rows: await rowCount(page) };
}

// Load: gen at 20,000 events a second, then gen with no --rate (as fast as the slowest
// reader takes them), then 20,000 a second while the page's own thread is held busy for
// 3 s. Checked: the page stays connected (never closed with 1008), counts every event
// (held + let go = sent), holds the newest 20,000 and shows 1,000 rows. Measured and
// printed: the rate the page took them at (a number of this machine, not a pass mark).
async function load(browser) {
  for (const [M, rate, busy] of [[100000, 20000, 0], [100000, 0, 0], [100000, 20000, 3000]]) {
    const what = 'gen ' + (rate ? '--rate ' + rate : '(no --rate)') + (busy ? ', the page\'s thread busy ' + busy / 1000 + ' s' : '');
    const g = await start('gen-load' + rate + (busy ? '-busy' : ''), ECQ, ['gen', '--ecaptureq', 'ws://127.0.0.1:0/', '--events', String(M), '--wait-clients', '1', '--stay']
      .concat(rate ? ['--rate', String(rate)] : []));
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto('http://127.0.0.1:' + g.port + '/');
    let first = 0, t0 = 0, t1 = 0, n = 0, st = '', lost = false, blocked = !busy;
    const deadline = Date.now() + 120000;
    while (Date.now() < deadline) {
      [n, st] = await page.evaluate(() => [Number((/ of (\d+) events/.exec(document.getElementById('counts').textContent) || [0, 0])[1]),
                                           document.getElementById('state').textContent]);
      const now = Date.now();
      if (n && !t0) { t0 = now; first = n; }
      if (st !== 'connected' && t0) { lost = true; t1 = now; break; }
      if (n === M) { t1 = now; break; }
      if (n && !blocked) { blocked = true; await page.evaluate(ms => { const end = performance.now() + ms; while (performance.now() < end); }, busy); }
      await sleep(50);
    }
    await sleep(300);
    const t = await tally(page);
    const sustained = t1 > t0 ? Math.round((n - first) / ((t1 - t0) / 1000)) : 0;
    console.log('# viewer: ' + what + ', ' + M + ' events: the page took ' + (n - first) + ' in ' +
                ((t1 - t0) / 1000).toFixed(1) + ' s, ' + sustained + ' events/s' + (lost ? ', then it was closed' : '') + '; ' + t.c);
    check(!lost && st === 'connected' && !/1008|too slow/.test(g.log()) && t.total === M && t.held + t.gone === M && t.held === 20000 &&
          t.rows === 1000 && t.shown === 1000,
          what + ': the page stays connected and counts all ' + M + ' events (held ' + t.held + ' + let go ' + t.gone +
          '), shows 1000 rows',
          st + ', ' + t.c + ', rows ' + t.rows + (/1008/.test(g.log()) ? ', gen closed it with 1008' : ''));
    await page.close();
    await stop(g);
  }
}

// HTTP/2, gRPC and HTTP/1.1 as capture sends them (tests/h2_stream.c): frames decoded,
// exchanges with gzip bodies inflated, a table entry never seen shown as unknown
async function synthetic(browser) {
  const h2 = await start('h2-stream', H2S, ['1']);
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.goto('http://127.0.0.1:' + h2.port + '/');
  await until(page, () => document.querySelectorAll('#rows tr').length >= 12, null, 10000);
  const prev = await page.$$eval('#rows td.c-prev', tds => tds.map(td => td.textContent));
  check(prev.includes('preface · SETTINGS HEADER_TABLE_SIZE=4096 MAX_CONCURRENT_STREAMS=100 · HEADERS 1: GET / (end)') &&
        prev.includes('HEADERS 1: :status 200') && prev.includes('preface · HEADERS 1: POST /echo.Echo/Say · DATA 1 8 B · DATA 1 11 B (end)'),
        'HTTP/2 previews: the preface, SETTINGS values, GET / and :status 200 (a frame header read alone, its payload in the next read), a gRPC call', prev.join(' | '));
  await page.click('#v-x');
  await until(page, () => document.querySelectorAll('#xrows tr').length === 5, null, 5000);
  const xr = await page.$$eval('#xrows tr', trs => trs.map(tr => [...tr.cells].slice(2, 6).map(td => td.textContent).join(' ')));
  check(['HTTP/1.1 GET /two 404', 'HTTP/1.1 GET /one 200', 'HTTP/2 ? ? 200', 'HTTP/2 gRPC POST /echo.Echo/Say 200 · grpc 0', 'HTTP/2 GET / 200'].every((r, i) => xr[i] === r),
        'exchanges: HTTP/2 GET, a gRPC call with grpc-status, a response on a stream seen mid-connection, HTTP/1.1 pipelined', xr.join(' | '));
  await page.click('#xrows tr:nth-child(1)');
  const inflated = await until(page, () => [...document.querySelectorAll('#body pre.payload')].some(p => p.dataset.inflated === 'gzip' && p.textContent.startsWith('second reply, gzip-compressed')), null, 5000);
  check(inflated, 'a gzip response body is inflated in the detail (DecompressionStream)');
  await page.click('#xrows tr:nth-child(3)');
  const unk = await page.$$eval('#body table.hdrs tr.unknown', trs => trs.map(tr => tr.textContent));
  const after = await page.$$eval('#body table.hdrs tr', trs => trs.map(tr => tr.cells[0].textContent + ': ' + tr.cells[1].textContent));
  check(unk.length === 1 && /unknown: table entry 62 was sent before the page saw this connection/.test(unk[0]) && after.includes('x-after: attach'),
        'attached mid-connection: the table entry never seen is shown as unknown, never a value; the literal after it decoded', after.join(' | '));
  await page.click('#v-events');
  await page.fill('#filter', 'path:/one');
  await until(page, () => document.querySelectorAll('#rows tr').length === 3, null, 5000);
  const one = await page.$$eval('#rows td.c-prev', tds => tds.map(td => td.textContent));
  check(one.length === 3 && one[0].startsWith('5 ⏎ reply') && one[1].startsWith('HTTP/1.1 200 OK') && one[2].startsWith('GET /one'),
        'HTTP/1.1: a read of body bytes alone (the chunked reply\'s last chunk) joins its exchange: path:/one finds it', one.join(' | '));
  await page.close();
  await stop(h2);
}

// payloads that are markup or script are shown as text and never run
async function hostile(browser) {
  const emb = await start('embed', EMBED, [], { stdin: true });
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', e => errors.push(e.message));
  await page.goto('http://127.0.0.1:' + emb.port + '/');
  await until(page, () => document.getElementById('state').textContent === 'connected', null, 10000);
  const evil = ['<img src=x onerror="document.title=\'pwned\'">', '<script>document.title="pwned"</script>',
                '"><svg onload="document.title=\'pwned\'">', '\x1b[31mred\x1b[0m \u202e reversed'];
  emb.p.stdin.write(evil.join('\n') + '\n');
  const got = await until(page, () => document.querySelectorAll('#rows tr').length === 4, null);
  await page.click('#rows tr:nth-child(4)'); // the oldest: the <img>
  await sleep(300);
  const title = await page.title(), shown = await page.textContent('#body pre');
  const imgs = await page.evaluate(() => document.querySelectorAll('#rows img, #body img, #rows svg, #body svg, #rows script').length);
  check(got && title === 'ecaptureq' && imgs === 0 && shown === evil[0] && errors.length === 0,
        'HTML and script in payloads are shown as text, never run (title "' + title + '")', shown);
  await page.close();
  emb.p.stdin.end();
  await new Promise(r => emb.p.exitCode !== null ? r() : emb.p.on('exit', r));
}

// a page of another origin cannot read the stream; the agent's own page can
async function foreign(browser) {
  const gen = await start('gen-origin', ECQ, ['gen', '--ecaptureq', 'ws://127.0.0.1:0/', '--rate', '10']);
  const srv = http.createServer((req, res) => {
    res.setHeader('Content-Type', 'text/html');
    res.end('<!doctype html><title>wait</title><script>const w = new WebSocket("ws://127.0.0.1:' + gen.port + '/");' +
            'w.onopen = () => document.title = "open"; w.onerror = () => document.title = "refused";</script>');
  });
  await new Promise(r => srv.listen(0, '127.0.0.1', r));
  const hport = srv.address().port;
  const page = await browser.newPage();
  await page.goto('http://evil.test:' + hport + '/');
  await until(page, () => document.title !== 'wait', null, 10000);
  const evilTitle = await page.title();
  await page.goto('http://127.0.0.1:' + gen.port + '/');
  const own = await until(page, () => document.querySelectorAll('#rows tr').length > 0, null, 10000);
  check(evilTitle === 'refused' && /refused with 403 Forbidden/.test(gen.log()) && own,
        'a page from another origin (http://evil.test) is refused with 403; the agent\'s own page is served and streams', evilTitle);
  await page.close();
  srv.close();
  await stop(gen);
}

// a server with a token: the page asks for it, or takes ?token= from its URL
async function token(browser) {
  const gen = await start('gen-token', ECQ, ['gen', '--ecaptureq', 'ws://127.0.0.1:0/', '--rate', '20', '--token', 'open sesame']);
  const base = 'http://127.0.0.1:' + gen.port + '/';
  let page = await browser.newPage();
  await page.goto(base);
  const asks = await until(page, () => !document.getElementById('auth').hidden, null, 5000);
  await page.fill('#token', 'wrong');
  await page.click('#auth button');
  await sleep(1500);
  const refused = await state(page) !== 'connected' && await page.evaluate(() => !document.getElementById('auth').hidden);
  await page.fill('#token', 'open sesame');
  await page.click('#auth button');
  const inWith = await until(page, () => document.getElementById('state').textContent === 'connected' &&
                                         document.querySelectorAll('#rows tr').length > 0, null, 10000);
  check(asks && refused && inWith, 'with --token the page asks for it, stays out with a wrong one, streams with the right one',
        'asks ' + asks + ', refused ' + refused + ', in with the right one ' + inWith);
  await page.close();
  page = await browser.newPage();
  await page.goto(base + '?token=' + encodeURIComponent('open sesame'));
  const viaUrl = await until(page, () => document.getElementById('state').textContent === 'connected', null, 10000);
  const url = page.url();
  check(viaUrl && !url.includes('token'), '?token= in the page URL connects, and is taken out of the address bar', url);
  await page.close();
  await stop(gen);
}

main().catch(e => { console.log('not ok - viewer: the browser test ran to its end (' + e.message.split('\n')[0] + ')'); fails++; })
  .finally(() => { for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL'); process.exit(fails ? 1 : 0); });
