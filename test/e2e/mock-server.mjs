#!/usr/bin/env node
// A small stand-in for the neko server, for developing the web client and
// the e2e driver without the real (Go) server.
//
// It serves web/dist, implements the REST API and the WebSocket protocol,
// and fakes the virtual desktop with a headless Chromium ("remote"):
//  - a test page (background colour + a text input) that plays the role of
//    the remote browser; its DevTools endpoint is what e2e.mjs connects to;
//  - a hidden "sender" page in the same browser that streams a canvas
//    picture of that test page plus a sine tone over WebRTC (server offer,
//    trickled ICE candidates sent *before* signal/provide);
//  - control/* input events are replayed into the test page (Playwright
//    mouse/keyboard), so typing through the client really fills the input.
//
// Usage (from the repository root, after `npm run build` in web/):
//   node test/e2e/mock-server.mjs              # serve until Ctrl-C
//   node test/e2e/mock-server.mjs --run-e2e    # run e2e.mjs against it
// Environment: MOCK_PORT (18080), MOCK_CDP_PORT (19222), MOCK_PASSWORD
// (admin), MOCK_PREFIX (path prefix, e.g. /neko/), MOCK_COOKIES=0 (token
// auth instead of cookies), MOCK_MEMBERS (extra fake members, "bob,carol").

import { createHash, randomUUID } from 'node:crypto'
import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { createRequire } from 'node:module'
import path from 'node:path'
import os from 'node:os'
import { fileURLToPath } from 'node:url'

const require = createRequire(new URL('../../web/package.json', import.meta.url))
const { chromium } = require('playwright-core')

const here = path.dirname(fileURLToPath(import.meta.url))
const DIST = path.resolve(here, '../../web/dist')
const PORT = Number(process.env.MOCK_PORT || 18080)
const CDP_PORT = Number(process.env.MOCK_CDP_PORT || 19222)
const PASSWORD = process.env.MOCK_PASSWORD || 'admin'
const PREFIX = (process.env.MOCK_PREFIX || '/').replace(/\/?$/, '/')
const COOKIES = process.env.MOCK_COOKIES !== '0'
const BG = [40, 160, 220]
const SCREEN = { width: 1280, height: 720, rate: 30 }
const INPUT = { x: 420, y: 300, width: 320, height: 40 }
const HEARTBEAT = 10

const log = (...a) => console.error('[mock]', ...a)

/* ------------------------------------------------------------------ */
/* sessions                                                            */
/* ------------------------------------------------------------------ */

const profile = (name, admin) => ({
  name,
  is_admin: admin,
  can_login: true,
  can_connect: true,
  can_watch: true,
  can_host: true,
  can_share_media: true,
  can_access_clipboard: true,
  sends_inactive_cursor: true,
  can_see_inactive_cursors: true,
  plugins: {},
})

/** id → { id, token, profile, state } */
const sessions = new Map()
/** id → socket connection */
const sockets = new Map()
let hostId = ''

for (const name of (process.env.MOCK_MEMBERS || '').split(',').filter(Boolean)) {
  const id = `fake-${name}`
  sessions.set(id, {
    id,
    token: randomUUID(),
    profile: profile(name, false),
    state: { is_connected: true, is_watching: true },
  })
}

const publicSession = (s) => ({ id: s.id, profile: s.profile, state: s.state })

function sessionFromRequest(req) {
  const url = new URL(req.url, 'http://x')
  let token = url.searchParams.get('token')
  const auth = req.headers.authorization
  if (!token && auth?.startsWith('Bearer ')) token = auth.slice(7)
  if (!token) {
    const m = /(?:^|;\s*)NEKO_SESSION=([^;]+)/.exec(req.headers.cookie || '')
    token = m?.[1]
  }
  if (!token) return null
  for (const s of sessions.values()) if (s.token === token) return s
  return null
}

function broadcast(event, payload) {
  for (const conn of sockets.values()) conn.send(event, payload)
}

function setHost(id, by) {
  hostId = id
  broadcast('control/host', { id: by, has_host: !!id, ...(id ? { host_id: id } : {}) })
}

/* ------------------------------------------------------------------ */
/* HTTP                                                                */
/* ------------------------------------------------------------------ */

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
}

function sendJson(res, status, body, headers = {}) {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers })
  res.end(JSON.stringify(body))
}

async function readBody(req) {
  const chunks = []
  for await (const c of req) chunks.push(c)
  try {
    return JSON.parse(Buffer.concat(chunks).toString() || '{}')
  } catch {
    return {}
  }
}

async function handleApi(req, res, route) {
  if (route === 'api/login' && req.method === 'POST') {
    const { username, password } = await readBody(req)
    if (!username || password !== PASSWORD) {
      return sendJson(res, 401, { message: 'wrong username or password' })
    }
    const s = {
      id: randomUUID().slice(0, 8),
      token: randomUUID(),
      profile: profile(username, true),
      state: { is_connected: false, is_watching: false },
    }
    sessions.set(s.id, s)
    broadcast('session/created', publicSession(s))
    const body = { ...publicSession(s), ...(COOKIES ? {} : { token: s.token }) }
    const headers = COOKIES
      ? { 'Set-Cookie': `NEKO_SESSION=${s.token}; Path=/; HttpOnly; SameSite=Lax` }
      : {}
    return sendJson(res, 200, body, headers)
  }
  const s = sessionFromRequest(req)
  if (!s) return sendJson(res, 401, { message: 'no authentication provided' })
  if (route === 'api/whoami' && req.method === 'GET') return sendJson(res, 200, publicSession(s))
  if (route === 'api/logout' && req.method === 'POST') {
    sockets.get(s.id)?.close()
    sessions.delete(s.id)
    broadcast('session/deleted', { id: s.id })
    return sendJson(res, 200, {}, { 'Set-Cookie': 'NEKO_SESSION=; Path=/; Max-Age=0' })
  }
  const give = /^api\/room\/control\/give\/(.+)$/.exec(route)
  if (give && req.method === 'POST') {
    if (hostId !== s.id && !s.profile.is_admin) return sendJson(res, 403, { message: 'not host' })
    setHost(decodeURIComponent(give[1]), s.id)
    return sendJson(res, 200, {})
  }
  return sendJson(res, 404, { message: 'not found' })
}

const server = createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://x')
    if (!url.pathname.startsWith(PREFIX)) {
      res.writeHead(302, { Location: PREFIX })
      return res.end()
    }
    const route = url.pathname.slice(PREFIX.length)
    if (route.startsWith('api/')) return await handleApi(req, res, route)
    const file = path.join(DIST, path.normalize(`/${route || 'index.html'}`))
    const data = await readFile(file).catch(() => null)
    if (!data) return sendJson(res, 404, { message: 'not found' })
    res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream' })
    res.end(data)
  } catch (err) {
    log('http error', err)
    sendJson(res, 500, { message: String(err) })
  }
})

/* ------------------------------------------------------------------ */
/* minimal RFC 6455 WebSocket                                          */
/* ------------------------------------------------------------------ */

function frame(opcode, payload) {
  const len = payload.length
  const head =
    len < 126 ? Buffer.from([0x80 | opcode, len]) : len < 65536 ? Buffer.alloc(4) : Buffer.alloc(10)
  if (len >= 126 && len < 65536) {
    head[0] = 0x80 | opcode
    head[1] = 126
    head.writeUInt16BE(len, 2)
  } else if (len >= 65536) {
    head[0] = 0x80 | opcode
    head[1] = 127
    head.writeBigUInt64BE(BigInt(len), 2)
  }
  return Buffer.concat([head, payload])
}

function acceptWebSocket(req, socket, onText, onClose) {
  const key = req.headers['sec-websocket-key']
  const accept = createHash('sha1')
    .update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11')
    .digest('base64')
  socket.write(
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
  )
  socket.setNoDelay(true)
  let buf = Buffer.alloc(0)
  let fragments = []
  let closed = false
  const conn = {
    send(event, payload) {
      if (closed) return
      const msg = payload === undefined ? { event } : { event, payload }
      socket.write(frame(1, Buffer.from(JSON.stringify(msg))))
    },
    close() {
      if (closed) return
      socket.write(frame(8, Buffer.from([0x03, 0xe8])))
      socket.end()
    },
  }
  socket.on('data', (chunk) => {
    buf = Buffer.concat([buf, chunk])
    for (;;) {
      if (buf.length < 2) return
      const fin = (buf[0] & 0x80) !== 0
      const opcode = buf[0] & 0x0f
      let len = buf[1] & 0x7f
      let offset = 2
      if (len === 126) {
        if (buf.length < 4) return
        len = buf.readUInt16BE(2)
        offset = 4
      } else if (len === 127) {
        if (buf.length < 10) return
        len = Number(buf.readBigUInt64BE(2))
        offset = 10
      }
      const masked = (buf[1] & 0x80) !== 0
      const maskAt = offset
      if (masked) offset += 4
      if (buf.length < offset + len) return
      const payload = Buffer.from(buf.subarray(offset, offset + len))
      if (masked) for (let i = 0; i < len; i++) payload[i] ^= buf[maskAt + (i % 4)]
      buf = buf.subarray(offset + len)
      if (opcode === 8) {
        conn.close()
        return
      }
      if (opcode === 9) {
        socket.write(frame(10, payload))
        continue
      }
      if (opcode === 1 || opcode === 0) {
        fragments.push(payload)
        if (fin) {
          const text = Buffer.concat(fragments).toString()
          fragments = []
          onText(text)
        }
      }
    }
  })
  const done = () => {
    if (closed) return
    closed = true
    onClose()
  }
  socket.on('close', done)
  socket.on('error', done)
  return conn
}

/* ------------------------------------------------------------------ */
/* fake desktop: remote test page + WebRTC sender                      */
/* ------------------------------------------------------------------ */

const rgb = `rgb(${BG.join(',')})`
const TEST_PAGE = `<!doctype html><html><head><title>remote test page</title><style>
  html,body{margin:0;height:100%;background:${rgb};font:16px sans-serif}
  #t{position:absolute;left:${INPUT.x}px;top:${INPUT.y}px;width:${INPUT.width}px;height:${INPUT.height}px;
     box-sizing:border-box;font-size:20px;border:2px solid #fff;background:#fff}
</style></head><body><input id="t" autocomplete="off"></body></html>`

// Runs in the sender page. The picture mirrors the test page layout.
const SENDER_PAGE = `<!doctype html><html><body><canvas id="c" width="${SCREEN.width}" height="${SCREEN.height}"></canvas>
<script>
const canvas = document.getElementById('c')
const ctx = canvas.getContext('2d')
let frameNo = 0
let typed = ''
function draw() {
  ctx.fillStyle = '${rgb}'
  ctx.fillRect(0, 0, canvas.width, canvas.height)
  ctx.fillStyle = '#fff'
  ctx.fillRect(${INPUT.x}, ${INPUT.y}, ${INPUT.width}, ${INPUT.height})
  ctx.fillStyle = '#000'
  ctx.font = '20px sans-serif'
  ctx.fillText(typed, ${INPUT.x + 8}, ${INPUT.y + 27})
  // something that moves so that frames keep coming
  const x = ${SCREEN.width / 2} + Math.sin(frameNo / 15) * 100
  ctx.fillStyle = '#ff8a3d'
  ctx.fillRect(x - 15, ${SCREEN.height / 2 + 80}, 30, 30)
  frameNo++
}
setInterval(draw, 33)
draw()
window.setTyped = (t) => { typed = t }
const stream = canvas.captureStream(30)
const audio = new AudioContext()
const osc = audio.createOscillator()
const gain = audio.createGain()
gain.gain.value = 0.05
const dest = audio.createMediaStreamDestination()
osc.connect(gain).connect(dest)
osc.start()
const peers = {}
window.createOffer = async (id) => {
  peers[id]?.close()
  const pc = new RTCPeerConnection({ iceServers: [] })
  peers[id] = pc
  pc.addTrack(stream.getVideoTracks()[0], stream)
  pc.addTrack(dest.stream.getAudioTracks()[0], stream)
  const candidates = []
  const gathered = new Promise((resolve) => {
    pc.onicecandidate = (e) => (e.candidate ? candidates.push(e.candidate.toJSON()) : resolve())
    setTimeout(resolve, 3000)
  })
  const offer = await pc.createOffer()
  await pc.setLocalDescription(offer)
  await gathered
  return { sdp: offer.sdp, candidates }
}
window.setAnswer = (id, sdp) => peers[id].setRemoteDescription({ type: 'answer', sdp })
window.addCandidate = (id, c) => peers[id]?.addIceCandidate(c)
window.closePeer = (id) => { peers[id]?.close(); delete peers[id] }
</script></body></html>`

let desktop = null

async function startDesktop() {
  const context = await chromium.launchPersistentContext('', {
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    viewport: { width: SCREEN.width, height: SCREEN.height },
    args: [
      `--remote-debugging-port=${CDP_PORT}`,
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--autoplay-policy=no-user-gesture-required',
      '--disable-features=WebRtcHideLocalIpsWithMdns',
      '--disable-background-timer-throttling',
      '--disable-renderer-backgrounding',
      '--disable-backgrounding-occluded-windows',
      '--no-first-run',
    ],
  })
  const pages = context.pages()
  const remote = pages[0] ?? (await context.newPage())
  await remote.setContent(TEST_PAGE)
  const sender = await context.newPage()
  await sender.setContent(SENDER_PAGE)
  // mirror what is typed into the test page onto the streamed picture
  await remote.exposeFunction('__typed', (t) => sender.evaluate((v) => window.setTyped(v), t))
  await remote.evaluate(() =>
    document.getElementById('t').addEventListener('input', (e) => window.__typed(e.target.value)),
  )
  return { context, remote, sender }
}

const KEY_NAMES = {
  0xff08: 'Backspace',
  0xff09: 'Tab',
  0xff0d: 'Enter',
  0xff1b: 'Escape',
  0xffff: 'Delete',
  0xff50: 'Home',
  0xff51: 'ArrowLeft',
  0xff52: 'ArrowUp',
  0xff53: 'ArrowRight',
  0xff54: 'ArrowDown',
  0xff57: 'End',
  0xffe1: 'Shift',
  0xffe2: 'Shift',
  0xffe3: 'Control',
  0xffe4: 'Control',
  0xffe9: 'Alt',
}

function keyName(keysym) {
  if (KEY_NAMES[keysym]) return KEY_NAMES[keysym]
  if ((keysym >= 0x20 && keysym <= 0x7e) || (keysym >= 0xa0 && keysym <= 0xff)) {
    return String.fromCharCode(keysym)
  }
  if (keysym >= 0x01000100 && keysym <= 0x0110ffff) return String.fromCodePoint(keysym - 0x01000000)
  return null
}

const BUTTONS = { 1: 'left', 2: 'middle', 3: 'right' }

/** Replays host input into the remote test page, in order. */
let inputQueue = Promise.resolve()
function replayInput(event, p) {
  const { remote } = desktop
  inputQueue = inputQueue
    .then(async () => {
      switch (event) {
        case 'control/move':
          return remote.mouse.move(p.x, p.y)
        case 'control/buttondown':
          await remote.mouse.move(p.x, p.y)
          if (BUTTONS[p.code]) return remote.mouse.down({ button: BUTTONS[p.code] })
          return
        case 'control/buttonup':
          await remote.mouse.move(p.x, p.y)
          if (BUTTONS[p.code]) return remote.mouse.up({ button: BUTTONS[p.code] })
          return
        case 'control/scroll':
          return remote.mouse.wheel(p.delta_x, p.delta_y)
        case 'control/keydown':
        case 'control/keyup': {
          const name = keyName(p.keysym)
          if (!name) return log('unmapped keysym', p.keysym.toString(16))
          return event === 'control/keydown' ? remote.keyboard.down(name) : remote.keyboard.up(name)
        }
      }
    })
    .catch((err) => log('input replay failed', event, err.message))
}

/* ------------------------------------------------------------------ */
/* WebSocket protocol                                                  */
/* ------------------------------------------------------------------ */

server.on('upgrade', (req, socket) => {
  const url = new URL(req.url, 'http://x')
  if (url.pathname !== `${PREFIX}api/ws`) return socket.destroy()
  const s = sessionFromRequest(req)
  if (!s) {
    socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n')
    return
  }
  sockets.get(s.id)?.close()

  const conn = acceptWebSocket(
    req,
    socket,
    (text) => {
      let msg
      try {
        msg = JSON.parse(text)
      } catch {
        return log('bad message', text)
      }
      handleMessage(s, conn, msg.event, msg.payload).catch((err) =>
        log('handler failed', msg.event, err),
      )
    },
    () => {
      if (sockets.get(s.id) !== conn) return
      sockets.delete(s.id)
      clearInterval(heartbeat)
      desktop?.sender.evaluate((id) => window.closePeer(id), s.id).catch(() => {})
      s.state = { ...s.state, is_connected: false, is_watching: false }
      broadcast('session/state', { id: s.id, ...s.state })
      if (hostId === s.id) setHost('', s.id)
      log(`${s.profile.name} disconnected`)
    },
  )
  sockets.set(s.id, conn)
  s.state = { ...s.state, is_connected: true }
  log(`${s.profile.name} connected`)
  const heartbeat = setInterval(() => conn.send('system/heartbeat'), HEARTBEAT * 1000)

  conn.send('system/init', {
    session_id: s.id,
    control_host: { has_host: !!hostId, ...(hostId ? { host_id: hostId } : {}) },
    screen_size: SCREEN,
    sessions: Object.fromEntries([...sessions.values()].map((x) => [x.id, publicSession(x)])),
    settings: {
      private_mode: false,
      locked_logins: false,
      locked_controls: false,
      control_protection: false,
      implicit_hosting: false,
      inactive_cursors: false,
      merciful_reconnect: true,
      heartbeat_interval: HEARTBEAT,
      plugins: {},
    },
    touch_events: false,
    screencast_enabled: false,
    webrtc: { videos: ['hd'] },
  })
  for (const [id, other] of sockets) {
    if (id !== s.id) other.send('session/state', { id: s.id, ...s.state })
  }
})

async function handleMessage(s, conn, event, payload) {
  switch (event) {
    case 'client/heartbeat':
      return
    case 'signal/request': {
      const offer = await desktop.sender.evaluate((id) => window.createOffer(id), s.id)
      // candidates first: the client has to buffer them
      for (const c of offer.candidates) conn.send('signal/candidate', c)
      conn.send('signal/provide', {
        sdp: offer.sdp,
        iceservers: [],
        video: { disabled: false, id: 'hd', video: 'hd', auto: false },
        audio: { disabled: false },
      })
      return
    }
    case 'signal/answer':
      await desktop.sender.evaluate(([id, sdp]) => window.setAnswer(id, sdp), [s.id, payload.sdp])
      s.state = { ...s.state, is_watching: true }
      broadcast('session/state', { id: s.id, ...s.state })
      conn.send('signal/video', { disabled: false, id: 'hd', video: 'hd', auto: false })
      conn.send('signal/audio', { disabled: false })
      return
    case 'signal/candidate':
      await desktop.sender.evaluate(([id, c]) => window.addCandidate(id, c), [s.id, payload])
      return
    case 'control/request':
      if (!hostId || hostId === s.id || !sockets.has(hostId)) setHost(s.id, s.id)
      else sockets.get(hostId)?.send('control/request', { id: s.id })
      return
    case 'control/release':
      if (hostId === s.id) setHost('', s.id)
      return
    default:
      if (event.startsWith('control/')) {
        if (hostId === s.id) replayInput(event, payload)
        return
      }
      log('unknown event', event)
  }
}

/* ------------------------------------------------------------------ */
/* main                                                                */
/* ------------------------------------------------------------------ */

desktop = await startDesktop()
await new Promise((resolve) => server.listen(PORT, '127.0.0.1', resolve))
const nekoUrl = `http://127.0.0.1:${PORT}${PREFIX}`
log(`serving ${DIST} at ${nekoUrl} (password "${PASSWORD}")`)
log(`remote DevTools at http://127.0.0.1:${CDP_PORT}`)

async function shutdown(code) {
  server.close()
  for (const c of sockets.values()) c.close()
  await desktop?.context.close().catch(() => {})
  process.exit(code)
}
process.on('SIGINT', () => shutdown(130))
process.on('SIGTERM', () => shutdown(143))

if (process.argv.includes('--run-e2e')) {
  const child = spawn(process.execPath, [path.join(here, 'e2e.mjs')], {
    stdio: 'inherit',
    env: {
      ...process.env,
      NEKO_URL: nekoUrl,
      NEKO_USERNAME: 'tester',
      NEKO_PASSWORD: PASSWORD,
      REMOTE_CDP_URL: `http://127.0.0.1:${CDP_PORT}`,
      REMOTE_BG: BG.join(','),
      REMOTE_INPUT_SELECTOR: '#t',
      SCREENSHOT_DIR: process.env.SCREENSHOT_DIR || path.join(os.tmpdir(), 'neko-e2e'),
    },
  })
  child.on('exit', (code) => shutdown(code ?? 1))
}
