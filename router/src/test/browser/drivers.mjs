// The few page operations console.spec.mjs needs, over two automation libraries, so that its
// checks are written once and run in both browsers the console must work in: Debian's Chromium
// through playwright-core, Debian's Firefox ESR through puppeteer-core (over WebDriver BiDi;
// Playwright's Firefox needs its own patched build). Neither library downloads a browser.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import puppeteer from 'puppeteer-core';

const VIEWPORT = { width: 1280, height: 900 };
// the machines that run the tests have no internet: nothing that phones home on start
const FIREFOX_PREFS = {
  'app.update.enabled': false,
  'app.normandy.enabled': false,
  'browser.shell.checkDefaultBrowser': false,
  'browser.safebrowsing.malware.enabled': false,
  'browser.safebrowsing.phishing.enabled': false,
  'browser.safebrowsing.downloads.enabled': false,
  'browser.safebrowsing.blockedURIs.enabled': false,
  'datareporting.healthreport.uploadEnabled': false,
  'datareporting.policy.dataSubmissionEnabled': false,
  'extensions.update.enabled': false,
  'network.captive-portal-service.enabled': false,
  'network.connectivity-service.enabled': false,
  'toolkit.telemetry.enabled': false,
};

const LAUNCHERS = { chromium: launchChromium, firefox: launchFirefox };

/** Launches the named browser from its executable, headless; returns the driver of its one page. */
export async function launch(name, executablePath, timeout) {
  const launcher = LAUNCHERS[name];
  if (!launcher) throw new Error(`BROWSER must be one of ${Object.keys(LAUNCHERS).join(', ')}, was '${name}'`);
  return launcher(executablePath, timeout);
}

async function launchChromium(executablePath, timeout) {
  const profile = mkdtempSync(join(tmpdir(), 'trellis-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: VIEWPORT,
  });
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(timeout);
  return driver(page, {
    version: await page.evaluate(() => navigator.userAgent),
    fill: (selector, value) => page.fill(selector, value),
    click: (selector) => page.click(selector),
    select: (selector, value) => page.selectOption(selector, value).then(() => undefined),
    waitFor: (selector) => page.waitForSelector(selector, { state: 'attached' }).then(() => undefined),
    cookies: () => context.cookies(),
    onPageError: (listener) => page.on('pageerror', (e) => listener(e.message)),
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  });
}

/**
 * Runs an action on the visible element the selector finds, again on a fresh find when the element
 * was replaced meanwhile (the console re-renders its view every 3 s).
 */
async function withElement(page, selector, action) {
  for (let attempt = 1; ; attempt++) {
    const element = await page.waitForSelector(selector, { visible: true });
    try {
      return await action(element);
    } catch (e) {
      if (attempt >= 3 || !/detached|not attached|not connected|stale/i.test(String(e.message))) throw e;
    } finally {
      await element.dispose().catch(() => {});
    }
  }
}

async function launchFirefox(executablePath, timeout) {
  // puppeteer makes (and removes) a fresh profile with these prefs
  const browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath,
    headless: true,
    extraPrefsFirefox: FIREFOX_PREFS,
    env: { ...process.env, MOZ_HEADLESS: '1' },
  });
  const page = (await browser.pages())[0] || await browser.newPage();
  // the page Firefox opens with keeps its 1366x768 window whatever defaultViewport says (and
  // --window-size too). puppeteer's setViewport sends BiDi's browsingContext.setViewport together
  // with emulation.setScreenOrientationOverride, which Firefox ESR 140 does not know: that one
  // refusal is tolerated, and the size checked below.
  try {
    await page.setViewport(VIEWPORT);
  } catch (e) {
    if (!String(e.message).includes('setScreenOrientationOverride')) {
      throw e;
    }
  }
  const size = await page.evaluate(() => [window.innerWidth, window.innerHeight]);
  if (size[0] !== VIEWPORT.width || size[1] !== VIEWPORT.height) {
    throw new Error(`Firefox's page is ${size[0]}x${size[1]}, expected ${VIEWPORT.width}x${VIEWPORT.height}`);
  }
  page.setDefaultTimeout(timeout);
  return driver(page, {
    version: await browser.version(),
    // element handles, not puppeteer's locators: on the console's pages (which re-render every 3 s)
    // Firefox ESR 140 never let a locator's action start (Locator.click/fill timed out with the
    // element visible), while the same element's handle acts at once
    fill: (selector, value) => withElement(page, selector, async (element) => {
      await element.evaluate((input) => { input.value = ''; });
      await element.type(value);
    }),
    click: (selector) => withElement(page, selector, (element) => element.click()),
    select: (selector, value) => page.waitForSelector(selector).then(() => page.select(selector, value)).then(() => undefined),
    waitFor: (selector) => page.waitForSelector(selector).then(() => undefined),
    cookies: () => browser.cookies(),
    onPageError: (listener) => page.on('pageerror', (e) => listener(e.message)),
    close: () => browser.close(),
  });
}

/**
 * What both libraries share (goto, url, evaluate, screenshot, the console and load events) plus the
 * few that differ. Reads wait for their element, then need exactly one match, as Playwright's
 * strict locators do; counts do not wait.
 */
function driver(page, own) {
  const one = async (selector, read) => {
    await own.waitFor(selector);
    const found = await page.evaluate(({ selector, read }) => {
      const all = document.querySelectorAll(selector);
      if (all.length !== 1) return { matches: all.length };
      return { value: read === 'innerText' ? all[0].innerText : all[0].getAttribute(read) };
    }, { selector, read });
    if (!('value' in found)) throw new Error(`${selector} matches ${found.matches} elements, not one`);
    return found.value;
  };
  return {
    version: own.version,
    goto: (url) => page.goto(url).then(() => undefined),
    url: () => page.url(),
    waitFor: own.waitFor,
    text: (selector) => one(selector, 'innerText'),
    attr: (selector, name) => one(selector, name),
    count: (selector) => page.evaluate((s) => document.querySelectorAll(s).length, selector),
    firstText: async (selector) => {
      await own.waitFor(selector);
      return page.evaluate((s) => document.querySelector(s).innerText, selector);
    },
    click: own.click,
    fill: own.fill,
    select: own.select,
    cookies: own.cookies,
    screenshot: (path, options) => page.screenshot({ path, ...options }).then(() => undefined),
    onPageError: own.onPageError,
    onConsoleError: (listener) => page.on('console', (m) => {
      if (m.type() === 'error') listener(m.text());
    }),
    onLoad: (listener) => page.on('load', listener),
    close: own.close,
  };
}
