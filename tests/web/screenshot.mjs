// screenshot.mjs - the README's picture of the viewer: node tests/web/screenshot.mjs URL OUT.png
// Opens the agent's page, waits for rows, selects the first HTTP response, shoots.
import { chromium } from 'playwright-core';
const [url, out] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] });
const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
await page.goto(url);
console.log('ready');
await page.waitForFunction(() => document.querySelectorAll('#rows tr').length >= 6, null, { timeout: 60000 });
await page.waitForTimeout(1500);
const resp = page.locator('#rows tr:has(td.t3)').last();
if (await resp.count()) await resp.click(); else await page.click('#rows tr:last-child');
await page.screenshot({ path: out });
await browser.close();
