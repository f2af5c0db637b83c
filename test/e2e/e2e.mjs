#!/usr/bin/env node
// End-to-end check of the neko web client against a running server.
//
// Logs in through the real UI in a local headless Chromium, waits for the
// WebRTC video, checks that it shows the remote test page (background
// colour), takes control, clicks the remote text input through the video and
// types "hello", then reads the input's value back through the DevTools
// protocol of the *remote* Chromium (the one inside the virtual desktop).
// Last, with the room's inactive cursors on, a second user's pointer over
// the video shows up on the first user's page with the user's name.
//
// Environment:
//   NEKO_URL               e.g. http://127.0.0.1:18080/
//   NEKO_USERNAME          display name to log in with
//   NEKO_PASSWORD          password
//   REMOTE_CDP_URL         http://127.0.0.1:PORT of the remote Chromium
//   REMOTE_BG              "r,g,b" background colour of the remote page
//   REMOTE_INPUT_SELECTOR  e.g. "#t"
//   SCREENSHOT_DIR         optional: screenshots + logs on failure
//   E2E_HEADFUL=1          optional: show the local browser (debugging)
//
// Exit code 0 on success, 1 on failure. The last stdout line is one JSON
// object with the timings (and `ok`, plus `error`/`step` on failure);
// progress goes to stderr.

import { createRequire } from 'node:module'
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'

const require = createRequire(new URL('../../web/package.json', import.meta.url))
const { chromium } = require('playwright-core')

const TYPED_TEXT = 'hello'
const COLOR_TOLERANCE = 40

const T = {
  launch: 30_000,
  remote: 20_000,
  login: 20_000,
  firstFrame: 30_000,
  background: 20_000,
  control: 10_000,
  focus: 5_000,
  typed: 10_000,
  quality: 15_000,
  cursors: 30_000,
}

/* ------------------------------------------------------------------ */
/* helpers                                                             */
/* ------------------------------------------------------------------ */

const started = performance.now()
const timings = {}
const consoleLines = []
let currentStep = 'setup'

const log = (...args) => console.error('[e2e]', ...args)
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const ms = (t0) => Math.round(performance.now() - t0)

class E2EError extends Error {}

function fail(message) {
  throw new E2EError(message)
}

function env(name, { required = true, fallback } = {}) {
  const value = process.env[name]
  if (value === undefined || value === '') {
    if (required) fail(`environment variable ${name} is required`)
    return fallback
  }
  return value
}

function parseRgb(text) {
  const parts = text.split(',').map((s) => Number(s.trim()))
  if (parts.length !== 3 || parts.some((n) => !Number.isInteger(n) || n < 0 || n > 255)) {
    fail(`REMOTE_BG must look like "40,160,220", got ${JSON.stringify(text)}`)
  }
  return parts
}

/**
 * Run `fn(deadline)` as a named step. `fn` polls against `deadline` and
 * reports what it waited for; the hard timeout (a little later) only catches
 * steps that hang somewhere else.
 */
async function step(name, timeoutMs, fn) {
  currentStep = name
  log(`${name}: start (timeout ${timeoutMs} ms)`)
  const t0 = performance.now()
  let timer
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(new E2EError(`${name}: timed out after ${timeoutMs} ms`)),
      timeoutMs + 3_000,
    )
  })
  try {
    const result = await Promise.race([fn(t0 + timeoutMs), deadline])
    log(`${name}: ok in ${ms(t0)} ms`)
    return result
  } finally {
    clearTimeout(timer)
  }
}

/** Poll `probe` until it returns a truthy value or the deadline passes. */
async function poll(deadline, probe, describeFailure, interval = 100) {
  let last
  for (;;) {
    try {
      last = await probe()
      if (last) return last
    } catch (err) {
      if (err instanceof E2EError) throw err // a definite failure, not "not yet"
      last = err
    }
    if (performance.now() >= deadline) {
      fail(typeof describeFailure === 'function' ? await describeFailure(last) : describeFailure)
    }
    await sleep(interval)
  }
}

/* ------------------------------------------------------------------ */
/* remote chromium (inside the virtual desktop)                        */
/* ------------------------------------------------------------------ */

/** Find the remote page that contains the input selector. */
async function findRemotePage(browser, selector, deadline) {
  return poll(
    deadline,
    async () => {
      for (const context of browser.contexts()) {
        for (const p of context.pages()) {
          if (p.url().startsWith('devtools://')) continue
          if (await p.$(selector).catch(() => null)) return p
        }
      }
      return null
    },
    () => {
      const urls = browser.contexts().flatMap((c) => c.pages().map((p) => p.url()))
      return `no remote page contains ${selector} (pages: ${JSON.stringify(urls)})`
    },
    250,
  )
}

/** Geometry of the remote input in remote *screen* pixels. */
async function remoteInputGeometry(remotePage, selector) {
  const g = await remotePage.evaluate((sel) => {
    const el = document.querySelector(sel)
    if (!el) return null
    const r = el.getBoundingClientRect()
    return {
      rect: { x: r.x, y: r.y, width: r.width, height: r.height },
      screenX: window.screenX,
      screenY: window.screenY,
      innerWidth: window.innerWidth,
      innerHeight: window.innerHeight,
      outerWidth: window.outerWidth,
      outerHeight: window.outerHeight,
      dpr: window.devicePixelRatio || 1,
      screen: { width: screen.width, height: screen.height },
    }
  }, selector)
  if (!g) fail(`remote input ${selector} disappeared`)
  // Kiosk / fullscreen: the viewport covers the whole screen, starting at
  // the origin (window.screenX/Y are not meaningful then). Otherwise assume
  // symmetric side borders and the rest of the frame (tabs, toolbar) on top.
  const fullscreen = g.innerWidth >= g.screen.width && g.innerHeight >= g.screen.height
  const border = fullscreen ? 0 : Math.max(0, (g.outerWidth - g.innerWidth) / 2)
  const top = fullscreen ? 0 : Math.max(0, g.outerHeight - g.innerHeight - border)
  const offsetX = fullscreen ? 0 : g.screenX + border
  const offsetY = fullscreen ? 0 : g.screenY + top
  const toScreen = (x, y) => ({ x: (offsetX + x) * g.dpr, y: (offsetY + y) * g.dpr })
  const topLeft = toScreen(g.rect.x, g.rect.y)
  const bottomRight = toScreen(g.rect.x + g.rect.width, g.rect.y + g.rect.height)
  return {
    raw: g,
    rect: {
      x: topLeft.x,
      y: topLeft.y,
      width: bottomRight.x - topLeft.x,
      height: bottomRight.y - topLeft.y,
    },
    center: toScreen(g.rect.x + g.rect.width / 2, g.rect.y + g.rect.height / 2),
  }
}

/**
 * Start recording the input events the remote page receives, so that a
 * failure can say whether clicks / keys arrived at all.
 */
async function recordRemoteEvents(remotePage) {
  await remotePage
    .evaluate(() => {
      if (window.__e2e) {
        window.__e2e.events.length = 0
        window.__e2e.moves = 0
        return
      }
      const rec = (window.__e2e = { events: [], moves: 0 })
      window.addEventListener('mousemove', () => rec.moves++, true)
      const types = ['mousedown', 'mouseup', 'click', 'focusin', 'keydown', 'keyup', 'input']
      for (const type of types) {
        window.addEventListener(
          type,
          (e) => {
            if (rec.events.length >= 100) return
            const t = e.target
            const target = t?.tagName
              ? t.tagName.toLowerCase() + (t.id ? `#${t.id}` : '')
              : 'window'
            const where = 'clientX' in e ? `@${e.clientX},${e.clientY}` : ''
            const key = 'key' in e ? `:${e.key}` : ''
            rec.events.push(`${type}${where}${key}(${target})`)
          },
          true,
        )
      }
    })
    .catch((err) => log('cannot record remote events:', err.message))
}

/** What the remote page received since recordRemoteEvents(). */
async function remoteEventSummary(remotePage) {
  return remotePage
    .evaluate(() => {
      const rec = window.__e2e ?? { events: [], moves: 0 }
      return (
        `remote page received ${rec.moves} mousemove(s) and: ` +
        `${rec.events.join(' ') || 'nothing else'}; document.hasFocus()=${document.hasFocus()}`
      )
    })
    .catch((err) => `remote events unavailable (${err.message})`)
}

/* ------------------------------------------------------------------ */
/* local page (the neko web client)                                    */
/* ------------------------------------------------------------------ */

/** Video element geometry + remote screen size as the client sees it. */
function videoGeometry(page) {
  return page.evaluate(() => {
    const v = document.querySelector('[data-testid="video"]')
    const o = document.querySelector('[data-testid="overlay"]')
    if (!v) return null
    const r = v.getBoundingClientRect()
    return {
      rect: { left: r.left, top: r.top, width: r.width, height: r.height },
      videoWidth: v.videoWidth,
      videoHeight: v.videoHeight,
      currentTime: v.currentTime,
      paused: v.paused,
      screenWidth: Number(o?.getAttribute('data-screen-width')) || v.videoWidth,
      screenHeight: Number(o?.getAttribute('data-screen-height')) || v.videoHeight,
    }
  })
}

/**
 * Remote screen pixel → local page point on the video (object-fit: contain
 * letterboxing); same maths as remoteToClient() in web/src/lib/coords.ts.
 */
function remoteToLocal(x, y, g) {
  const scale = Math.min(g.rect.width / g.videoWidth, g.rect.height / g.videoHeight)
  const w = g.videoWidth * scale
  const h = g.videoHeight * scale
  const left = g.rect.left + (g.rect.width - w) / 2
  const top = g.rect.top + (g.rect.height - h) / 2
  return {
    x: left + ((x + 0.5) / g.screenWidth) * w,
    y: top + ((y + 0.5) / g.screenHeight) * h,
  }
}

/** Average colour of small squares of the current video frame. */
function sampleVideo(page, points) {
  return page.evaluate((pts) => {
    const v = document.querySelector('[data-testid="video"]')
    const w = v.videoWidth
    const h = v.videoHeight
    const canvas = document.createElement('canvas')
    canvas.width = w
    canvas.height = h
    const ctx = canvas.getContext('2d', { willReadFrequently: true })
    ctx.drawImage(v, 0, 0, w, h)
    return pts.map(({ fx, fy }) => {
      const size = 6
      const x = Math.min(w - size, Math.max(0, Math.round(fx * w) - size / 2))
      const y = Math.min(h - size, Math.max(0, Math.round(fy * h) - size / 2))
      const data = ctx.getImageData(x, y, size, size).data
      const sum = [0, 0, 0]
      for (let i = 0; i < data.length; i += 4) {
        sum[0] += data[i]
        sum[1] += data[i + 1]
        sum[2] += data[i + 2]
      }
      const n = data.length / 4
      return { fx, fy, rgb: sum.map((s) => Math.round(s / n)) }
    })
  }, points)
}

/* ------------------------------------------------------------------ */
/* main                                                                */
/* ------------------------------------------------------------------ */

let localBrowser
let remoteBrowser
let page
let remotePage

async function main() {
  const nekoUrl = env('NEKO_URL')
  const username = env('NEKO_USERNAME')
  const password = env('NEKO_PASSWORD')
  const remoteCdpUrl = env('REMOTE_CDP_URL')
  const background = parseRgb(env('REMOTE_BG'))
  const selector = env('REMOTE_INPUT_SELECTOR')

  // 1. local browser
  await step('launch', T.launch, async () => {
    localBrowser = await chromium.launch({
      executablePath: env('CHROMIUM_PATH', { required: false, fallback: '/usr/bin/chromium' }),
      headless: process.env.E2E_HEADFUL !== '1',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--autoplay-policy=no-user-gesture-required',
        '--disable-features=WebRtcHideLocalIpsWithMdns',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--use-fake-ui-for-media-stream',
      ],
    })
    const context = await localBrowser.newContext({ viewport: { width: 1280, height: 800 } })
    page = await context.newPage()
    page.on('console', (m) => consoleLines.push(`[${m.type()}] ${m.text()}`))
    page.on('pageerror', (e) => consoleLines.push(`[pageerror] ${e.message}`))
  })

  // The remote page is looked up first: its input rectangle is needed to
  // pick background sample points that avoid it.
  const remote = await step('remote page', T.remote, async (deadline) => {
    remoteBrowser = await chromium.connectOverCDP(remoteCdpUrl, { timeout: T.remote })
    remotePage = await findRemotePage(remoteBrowser, selector, deadline)
    const geometry = await remoteInputGeometry(remotePage, selector)
    log(`remote page ${remotePage.url()}; input at`, geometry.rect, 'window', geometry.raw)
    return geometry
  })

  // 2. log in
  await step('login', T.login, async (deadline) => {
    const t0 = performance.now()
    await page.goto(nekoUrl, { waitUntil: 'domcontentloaded', timeout: T.login })
    await page.getByTestId('login-username').fill(username, { timeout: T.login })
    await page.getByTestId('login-password').fill(password)
    await page.getByTestId('login-submit').click()
    await poll(
      deadline,
      async () => {
        const err = await page
          .getByTestId('login-error')
          .textContent({ timeout: 50 })
          .catch(() => null)
        if (err) fail(`login failed: ${err.trim()}`)
        return (
          (await page.getByTestId('status').getAttribute('data-state', { timeout: 50 })) ===
          'connected'
        )
      },
      'the room did not reach status "connected" after logging in',
    )
    timings.login_ms = ms(t0)
  })
  const afterLogin = performance.now()

  // 3a. video playing
  const geometry = await step('first frame', T.firstFrame, async (deadline) => {
    let previous = null
    const g = await poll(
      deadline,
      async () => {
        const g = await videoGeometry(page)
        const advancing =
          g && previous && g.videoWidth > 0 && !g.paused && g.currentTime > previous.currentTime
        previous = g
        return advancing ? g : null
      },
      () =>
        `the video did not start playing (last state: ${JSON.stringify(previous)}, ` +
        `status ${JSON.stringify(consoleLines.slice(-5))})`,
      250,
    )
    timings.first_frame_ms = ms(afterLogin)
    log(`video ${g.videoWidth}x${g.videoHeight}, remote screen ${g.screenWidth}x${g.screenHeight}`)
    return g
  })

  // 3b. the picture shows the remote page background
  await step('background colour', T.background, async (deadline) => {
    const t0 = performance.now()
    const sw = geometry.screenWidth
    const sh = geometry.screenHeight
    const margin = 20
    const r = remote.rect
    const candidates = [
      [0.1, 0.1],
      [0.9, 0.1],
      [0.1, 0.9],
      [0.9, 0.9],
      [0.5, 0.1],
      [0.1, 0.5],
    ]
      .map(([fx, fy]) => ({ fx, fy }))
      .filter(({ fx, fy }) => {
        const x = fx * sw
        const y = fy * sh
        const onInput =
          x > r.x - margin &&
          x < r.x + r.width + margin &&
          y > r.y - margin &&
          y < r.y + r.height + margin
        return !onInput
      })
    if (candidates.length === 0) fail('the remote input covers every background sample point')
    const close = (rgb) => rgb.every((c, i) => Math.abs(c - background[i]) <= COLOR_TOLERANCE)
    let samples = []
    await poll(
      deadline,
      async () => {
        samples = await sampleVideo(page, candidates)
        return samples.find((s) => close(s.rgb))
      },
      () =>
        `the video does not show the remote background rgb(${background}) ±${COLOR_TOLERANCE}; ` +
        `samples: ${samples.map((s) => `(${s.fx},${s.fy})=rgb(${s.rgb})`).join(' ')}`,
      250,
    )
    log('samples', samples.map((s) => `(${s.fx},${s.fy})=rgb(${s.rgb})`).join(' '))
    timings.background_ms = ms(t0)
  })

  // 4. take control
  await step('take control', T.control, async (deadline) => {
    const t0 = performance.now()
    const toggle = page.getByTestId('control-toggle')
    await toggle.click({ timeout: T.control })
    await poll(
      deadline,
      async () => (await toggle.getAttribute('data-state', { timeout: 50 })) === 'host',
      async () =>
        `control-toggle never reached data-state="host" (now ${await toggle
          .getAttribute('data-state')
          .catch(() => '?')}, text ${JSON.stringify(await toggle.textContent().catch(() => '?'))})`,
    )
    timings.control_ms = ms(t0)
  })

  // an "unmute" prompt would sit on top of the picture: dismiss it
  const unmute = page.getByTestId('unmute')
  if (await unmute.isVisible().catch(() => false)) {
    log('autoplay with sound was blocked; clicking "unmute"')
    await unmute.click()
  }

  // 5. click the remote input through the video and type
  const typedStart = performance.now()
  await step('focus remote input', T.focus * 2 + 5_000, async () => {
    const value = await remotePage.$eval(selector, (el) => el.value)
    if (value) {
      log(`remote input not empty (${JSON.stringify(value)}); clearing it`)
      await remotePage.$eval(selector, (el) => (el.value = ''))
    }
    await recordRemoteEvents(remotePage)
    for (let attempt = 1; attempt <= 2; attempt++) {
      const g = await videoGeometry(page)
      const target = remoteToLocal(remote.center.x, remote.center.y, g)
      log(
        `click ${attempt}: remote (${remote.center.x.toFixed(1)}, ${remote.center.y.toFixed(1)})` +
          ` → local (${target.x.toFixed(1)}, ${target.y.toFixed(1)})`,
      )
      await page.mouse.click(target.x, target.y)
      try {
        await poll(
          performance.now() + T.focus,
          () => remotePage.$eval(selector, (el) => el === document.activeElement),
          'remote input not focused',
        )
        log(await remoteEventSummary(remotePage))
        return
      } catch (err) {
        if (attempt === 2) {
          const active = await remotePage
            .evaluate(() => document.activeElement?.outerHTML.slice(0, 120))
            .catch(() => '?')
          fail(
            `the remote input did not get focus after clicking it (active: ${active}); ` +
              (await remoteEventSummary(remotePage)),
          )
        }
        log(`${err.message}; clicking again`)
      }
    }
  })

  // the overlay has focus since the click, so key events go to the server
  await step('type', T.typed, async (deadline) => {
    const focused = await page.evaluate(
      () => document.activeElement?.getAttribute('data-testid') ?? document.activeElement?.tagName,
    )
    if (focused !== 'overlay') fail(`the overlay does not have keyboard focus (${focused} has)`)
    await recordRemoteEvents(remotePage)
    await page.keyboard.type(TYPED_TEXT, { delay: 40 })
    let value
    await poll(
      deadline,
      async () => {
        value = await remotePage.$eval(selector, (el) => el.value)
        return value === TYPED_TEXT
      },
      async () =>
        `remote input value is ${JSON.stringify(value)}, expected ${JSON.stringify(TYPED_TEXT)}; ` +
        (await remoteEventSummary(remotePage)),
      100,
    )
    timings.typed_ms = ms(typedStart)
  })

  // The quality menu lists the server's qualities and "Auto"; a choice
  // shows once the server confirmed it (signal/video).
  await step('quality menu', T.quality, async (deadline) => {
    const menu = '[data-testid="quality"]'
    const options = await page.$$eval(`${menu} option`, (els) => els.map((el) => el.value))
    if (JSON.stringify(options) !== JSON.stringify(['auto', 'hq', 'lq'])) {
      fail(`quality options are ${JSON.stringify(options)}, expected ["auto","hq","lq"]`)
    }
    // data-video / data-auto reflect what the server reports.
    for (const [choice, video, auto] of [
      ['lq', 'lq', 'false'],
      ['auto', 'lq', 'true'],
    ]) {
      await page.selectOption(menu, choice)
      let state
      await poll(
        deadline,
        async () => {
          state = await page.$eval(menu, (el) => [el.dataset.video, el.dataset.auto, el.value])
          return state[0] === video && state[1] === auto && state[2] === choice
        },
        async () =>
          `after choosing ${choice}: server video ${state?.[0]}, auto ${state?.[1]}, menu ${state?.[2]}`,
      )
    }
  })

  // 6. inactive cursors: a second user (not host) points at the picture;
  // the host (an admin, who may see them) gets the pointer with its name.
  await step('inactive cursors', T.cursors, async (deadline) => {
    const res = await page.request.post(new URL('api/room/settings', nekoUrl).href, {
      data: { inactive_cursors: true },
    })
    if (res.status() !== 204) fail(`enabling inactive cursors: HTTP ${res.status()}`)
    const other = await (
      await localBrowser.newContext({ viewport: { width: 1280, height: 800 } })
    ).newPage()
    await other.goto(nekoUrl, { waitUntil: 'domcontentloaded', timeout: T.login })
    await other.getByTestId('login-username').fill('pointer')
    await other.getByTestId('login-password').fill(env('NEKO_USER_PASSWORD'))
    await other.getByTestId('login-submit').click()
    await poll(
      deadline,
      async () =>
        (await other.getByTestId('status').getAttribute('data-state', { timeout: 50 })) ===
        'connected',
      'the second user did not connect',
    )
    const box = await other.getByTestId('overlay').boundingBox()
    if (!box) fail('the second user has no video overlay')
    let step = 0
    await poll(
      deadline,
      async () => {
        // keep moving: the server clears a pointer that rests
        step = (step + 1) % 20
        await other.mouse.move(box.x + box.width * (0.3 + step / 100), box.y + box.height / 2)
        const names = await page.$$eval('[data-testid="inactive-cursor"]', (els) =>
          els.map((el) => el.textContent?.trim()),
        )
        return names.includes('pointer')
      },
      "the second user's pointer never showed on the host's page",
      100,
    )
    await other.context().close()
  })
}

async function saveDiagnostics(error) {
  const dir = process.env.SCREENSHOT_DIR
  if (!dir) return
  try {
    await mkdir(dir, { recursive: true })
    const files = []
    if (page) {
      const f = path.join(dir, 'e2e-local.png')
      await page.screenshot({ path: f, timeout: 5000 })
      files.push(f)
    }
    if (remotePage) {
      const f = path.join(dir, 'e2e-remote.png')
      await remotePage.screenshot({ path: f, timeout: 5000 })
      files.push(f)
    }
    const f = path.join(dir, 'e2e-log.txt')
    await writeFile(
      f,
      `step: ${currentStep}\nerror: ${error?.stack ?? error}\n\nlocal console:\n${consoleLines.join('\n')}\n`,
    )
    files.push(f)
    log('diagnostics saved:', files.join(', '))
  } catch (err) {
    log('could not save diagnostics:', err.message)
  }
}

let exitCode = 0
try {
  await main()
  timings.total_ms = ms(started)
  console.log(JSON.stringify({ ok: true, ...timings }))
} catch (error) {
  exitCode = 1
  const message = error instanceof E2EError ? error.message : (error?.stack ?? String(error))
  log(`FAILED in step "${currentStep}": ${message}`)
  if (consoleLines.length) {
    log('last console lines of the web client:\n  ' + consoleLines.slice(-30).join('\n  '))
  }
  await saveDiagnostics(error)
  timings.total_ms = ms(started)
  console.log(JSON.stringify({ ok: false, step: currentStep, error: message, ...timings }))
} finally {
  // only disconnect from the remote browser (never close it)
  await Promise.race([localBrowser?.close().catch(() => {}), sleep(5000)])
  process.exit(exitCode)
}
