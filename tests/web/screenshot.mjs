// screenshot.mjs - the README's picture of the viewer: node tests/web/screenshot.mjs URL OUT.png
// Opens the agent's page, prints "ready", waits for six exchanges, shows the exchanges
// view with the first HTTP/2 exchange selected, and shoots.
import { chromium } from 'playwright-core';
const [url, out] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] });
const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
await page.goto(url);
await page.waitForFunction(() => document.getElementById('state').textContent === 'connected', null, { timeout: 20000 });
console.log('ready');
await page.waitForFunction(() => Number(document.getElementById('xn').textContent) >= 6, null, { timeout: 120000 });
await page.waitForTimeout(1500);
await page.click('#v-x');
await page.waitForTimeout(300);
const h2 = page.locator('#xrows tr:has(td.x-proto:text-is("HTTP/2")):has(td.s2)').last();
if (await h2.count()) await h2.click(); else await page.click('#xrows tr:last-child');
await page.screenshot({ path: out });
await browser.close();
