import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { ApiClient, type StorageLike } from './api'
import { NekoClient, type CursorImage, type DisconnectInfo, type ObjectUrls } from './client'
import type { Point } from './coords'
import { splitTimestamp } from './datachannel'
import { silentLogger } from './log'
import type { MemberProfile, SystemInitPayload } from './protocol'
import { FakeMediaStream, FakePeerConnection, FakeWebSocket, flushPromises } from './test-fakes'

const profile = (name: string, can_host = true): MemberProfile => ({
  name,
  is_admin: false,
  can_login: true,
  can_connect: true,
  can_watch: true,
  can_host,
  can_share_media: false,
  can_access_clipboard: false,
  sends_inactive_cursor: false,
  can_see_inactive_cursors: false,
})

const state = { is_connected: true, is_watching: false }

function init(overrides: Partial<SystemInitPayload> = {}): SystemInitPayload {
  return {
    session_id: 'me',
    control_host: { has_host: true, host_id: 'bob' },
    screen_size: { width: 1920, height: 1080, rate: 30 },
    sessions: {
      me: { id: 'me', profile: profile('alice'), state },
      bob: { id: 'bob', profile: profile('bob'), state },
    },
    settings: {
      private_mode: false,
      locked_logins: false,
      locked_controls: false,
      control_protection: false,
      implicit_hosting: false,
      inactive_cursors: false,
      merciful_reconnect: false,
      heartbeat_interval: 0,
    },
    webrtc: { videos: ['hd'] },
    ...overrides,
  }
}

function memory(): StorageLike {
  const m = new Map<string, string>()
  return {
    getItem: (k) => m.get(k) ?? null,
    setItem: (k, v) => void m.set(k, v),
    removeItem: (k) => void m.delete(k),
  }
}

function setup(
  whoami: () => Promise<Response> = async () => new Response('{}'),
  objectUrls?: ObjectUrls,
) {
  const api = new ApiClient({ base: '/', fetch: () => whoami(), storage: memory() })
  const client = new NekoClient({
    location: { protocol: 'http:', host: 'example:8080', pathname: '/' },
    api,
    createWebSocket: (url) => new FakeWebSocket(url),
    createPeerConnection: (config) => new FakePeerConnection(config),
    createMediaStream: () => new FakeMediaStream(),
    inputScheduler: (fn) => fn(),
    signalRetryMs: 500,
    pingIntervalMs: 5000,
    objectUrls,
    logger: silentLogger,
  })
  return { client, api }
}

function connect(client: NekoClient, payload = init()): FakeWebSocket {
  client.connect()
  const ws = FakeWebSocket.last
  ws.open()
  ws.receive('system/init', payload)
  return ws
}

/** The server's offer arrives and the client answers it; its peer. */
async function provide(ws: FakeWebSocket): Promise<FakePeerConnection> {
  ws.receive('signal/provide', {
    sdp: 'OFFER',
    iceservers: [],
    video: { disabled: false },
    audio: { disabled: false },
  })
  await flushPromises(20)
  return FakePeerConnection.last
}

beforeEach(() => {
  vi.useFakeTimers()
  FakeWebSocket.reset()
  FakePeerConnection.reset()
})

afterEach(() => {
  vi.useRealTimers()
})

describe('NekoClient', () => {
  it('connects to api/ws and requests a video stream after system/init', () => {
    const { client } = setup()
    const ws = connect(client)
    expect(ws.url).toBe('ws://example:8080/api/ws')
    expect(client.status).toBe('connected')
    expect(ws.events()).toEqual(['signal/request'])
    expect(client.sessions.size).toBe(2)
    expect(client.hostId).toBe('bob')
    expect(client.isHost).toBe(false)
    expect(client.sessionName(client.hostId)).toBe('bob')
    expect(client.screenSize).toEqual({ width: 1920, height: 1080, rate: 30 })
  })

  it('runs the offer/answer exchange with buffered candidates', async () => {
    const { client } = setup()
    const ws = connect(client)
    const streams: unknown[] = []
    client.events.on('stream', (s) => streams.push(s))
    ws.receive('signal/candidate', {
      candidate: 'candidate:1 1 udp 1 10.0.0.1 5000 typ host',
      sdpMid: '0',
      sdpMLineIndex: 0,
      usernameFragment: 'u',
    })
    ws.receive('signal/provide', {
      sdp: 'OFFER',
      iceservers: [{ urls: ['stun:x'] }],
      video: { disabled: false, id: 'hd', video: 'hd', auto: false },
      audio: { disabled: false },
    })
    await flushPromises(20)
    const pc = FakePeerConnection.last
    expect(pc.candidates).toHaveLength(1)
    expect(ws.messages.at(-1)).toEqual({
      event: 'signal/answer',
      payload: { sdp: 'answer-to:OFFER' },
    })

    pc.emitCandidate({ candidate: 'candidate:2 1 udp 1 10.0.0.2 6000 typ host', sdpMid: '0' })
    expect(ws.messages.at(-1)?.event).toBe('signal/candidate')

    pc.emitTrack('video')
    pc.emitTrack('audio')
    expect(streams).toHaveLength(2)
    expect((streams[1] as FakeMediaStream).getTracks()).toHaveLength(2)

    const videos: unknown[] = []
    client.events.on('video', (v) => videos.push(v))
    client.setVideo('sd', true)
    expect(ws.messages.at(-1)).toEqual({
      event: 'signal/video',
      payload: { selector: { id: 'sd', type: 'exact' }, auto: true },
    })
    ws.receive('signal/video', { disabled: false, id: 'sd', video: 'sd', auto: true })
    expect(videos).toEqual([{ disabled: false, id: 'sd', video: 'sd', auto: true }])
    expect(client.video?.auto).toBe(true)
    ws.receive('signal/video', { disabled: false, id: 'hd', video: 'hd' })
    ws.receive('signal/audio', { disabled: false })
    ws.receive('signal/restart', { sdp: 'RESTART' })
    await flushPromises(20)
    expect(ws.messages.at(-1)).toEqual({
      event: 'signal/answer',
      payload: { sdp: 'answer-to:RESTART' },
    })
  })

  it('re-requests the stream after signal/close', async () => {
    const { client } = setup()
    const ws = connect(client)
    const pc = await provide(ws)
    ws.receive('signal/close', null)
    expect(pc.closed).toBe(true)
    const before = ws.events().filter((e) => e === 'signal/request').length
    vi.advanceTimersByTime(500)
    expect(ws.events().filter((e) => e === 'signal/request').length).toBe(before + 1)
  })

  it('tracks the host and sends input only while hosting', () => {
    const { client } = setup()
    const ws = connect(client)
    const hosts: boolean[] = []
    client.events.on('host', (h) => hosts.push(h.isHost))

    client.input.move({ x: 1, y: 2 }) // bob hosts → dropped
    client.requestControl()
    ws.receive('control/host', { id: 'me', has_host: true, host_id: 'me' })
    expect(client.isHost).toBe(true)
    client.input.move({ x: 3, y: 4 })
    client.input.keyDown({ key: 'a', code: 'KeyA' })
    client.releaseControl()
    ws.receive('control/host', { id: 'me', has_host: false })
    expect(client.hostId).toBeNull()

    expect(ws.messages.slice(1)).toEqual([
      { event: 'control/request' },
      { event: 'control/move', payload: { x: 3, y: 4 } },
      { event: 'control/keydown', payload: { keysym: 0x61 } },
      { event: 'control/keyup', payload: { keysym: 0x61 } },
      { event: 'control/release' },
    ])
    expect(hosts).toEqual([true, false])
  })

  it('updates sessions, profiles and screen size', () => {
    const { client } = setup()
    const ws = connect(client)
    ws.receive('session/created', { id: 'carol', profile: profile('carol'), state })
    ws.receive('session/profile', { id: 'carol', ...profile('caroline') })
    ws.receive('session/state', { id: 'carol', is_connected: false, is_watching: false })
    ws.receive('session/deleted', { id: 'bob' })
    ws.receive('screen/updated', { id: 'bob', width: 1280, height: 720, rate: 60 })
    expect([...client.sessions.keys()]).toEqual(['me', 'carol'])
    expect(client.sessions.get('carol')?.profile.name).toBe('caroline')
    expect(client.sessions.get('carol')?.state.is_connected).toBe(false)
    expect(client.screenSize).toEqual({ width: 1280, height: 720, rate: 60 })
  })

  it('knows when private mode withholds the media from us', () => {
    const { client } = setup()
    const base = init()
    const ws = connect(client)
    expect(client.privateMode).toBe(false)
    ws.receive('system/settings', { id: 'bob', ...base.settings, private_mode: true })
    expect(client.privateMode).toBe(true)
    // admins still see the screen
    ws.receive('session/profile', { id: 'me', ...profile('alice'), is_admin: true })
    expect(client.privateMode).toBe(false)
    ws.receive('session/profile', { id: 'me', ...profile('alice') })
    expect(client.privateMode).toBe(true)
    ws.receive('system/settings', { id: 'bob', ...base.settings, private_mode: false })
    expect(client.privateMode).toBe(false)
  })

  it('shows inactive cursors of others and sends ours while not hosting', () => {
    const { client } = setup()
    const me = { ...profile('alice'), sends_inactive_cursor: true, can_see_inactive_cursors: true }
    const base = init()
    const ws = connect(client, {
      ...base,
      sessions: { ...base.sessions, me: { id: 'me', profile: me, state } },
      control_host: { has_host: true, host_id: 'bob' },
    })
    ws.receive('session/created', { id: 'carol', profile: profile('carol'), state })
    const seen: unknown[] = []
    client.events.on('inactiveCursors', (list) => seen.push(list))

    // the room does not show them yet: nothing goes out
    client.pointerMoved({ x: 5, y: 6 }, 1000)
    ws.receive('system/settings', { id: 'bob', ...base.settings, inactive_cursors: true })
    expect(client.settings?.inactive_cursors).toBe(true)
    client.pointerMoved({ x: 10.4, y: 20.6 }, 2000)
    client.pointerMoved({ x: 11, y: 21 }, 2010) // too soon: dropped
    client.pointerMoved({ x: 12, y: 22 }, 2100)
    expect(ws.messages.slice(1)).toEqual([
      { event: 'control/move', payload: { x: 10, y: 21 } },
      { event: 'control/move', payload: { x: 12, y: 22 } },
    ])

    // ours and the host's are not inactive cursors; the newest point wins
    ws.receive('session/cursors', [
      { id: 'me', cursors: [{ x: 1, y: 1 }] },
      { id: 'bob', cursors: [{ x: 2, y: 2 }] },
      {
        id: 'carol',
        cursors: [
          { x: 3, y: 3 },
          { x: 30, y: 40 },
        ],
      },
    ])
    expect(client.inactiveCursors).toEqual([{ id: 'carol', name: 'carol', x: 30, y: 40 }])
    ws.receive('session/cursors', [])
    expect(client.inactiveCursors).toEqual([])
    ws.receive('session/cursors', [{ id: 'carol', cursors: [{ x: 3, y: 3 }] }])
    ws.receive('system/settings', { id: 'bob', ...base.settings, inactive_cursors: false })
    expect(client.inactiveCursors).toEqual([])
    expect(seen).toHaveLength(4)

    // nobody hosts and implicit hosting is on: a move would take control
    const sent = ws.messages.length
    ws.receive('control/host', { has_host: false })
    ws.receive('system/settings', {
      ...base.settings,
      inactive_cursors: true,
      implicit_hosting: true,
    })
    client.pointerMoved({ x: 50, y: 60 }, 5000)
    expect(ws.messages.length).toBe(sent)

    // a malformed list is dropped, not thrown
    ws.receive('session/cursors', { id: 'carol' })
    expect(client.inactiveCursors).toEqual([])
  })

  it('emits control requests with the requester name', () => {
    const { client } = setup()
    const ws = connect(client)
    const requests: unknown[] = []
    client.events.on('controlRequest', (r) => requests.push(r))
    ws.receive('control/request', { id: 'bob' })
    expect(requests).toEqual([{ id: 'bob', name: 'bob' }])
  })

  it('stops on system/disconnect and reports the message', async () => {
    const { client } = setup()
    const ws = connect(client)
    const infos: DisconnectInfo[] = []
    client.events.on('disconnected', (d) => infos.push(d))
    ws.receive('system/disconnect', { message: 'kicked' })
    ws.serverClose(1000)
    await flushPromises()
    vi.advanceTimersByTime(60000)
    expect(infos).toEqual([{ message: 'kicked', auth: true }])
    expect(client.status).toBe('disconnected')
    expect(FakeWebSocket.instances).toHaveLength(1)
  })

  it('gives up when the socket fails and whoami says 401', async () => {
    const { client } = setup(async () => new Response('{"message":"no"}', { status: 401 }))
    const infos: DisconnectInfo[] = []
    client.events.on('disconnected', (d) => infos.push(d))
    client.connect()
    FakeWebSocket.last.serverClose(1006)
    await flushPromises(20)
    expect(infos).toHaveLength(1)
    expect(infos[0].auth).toBe(true)
    expect(client.status).toBe('disconnected')
    vi.advanceTimersByTime(60000)
    expect(FakeWebSocket.instances).toHaveLength(1)
  })

  it('keeps the media peer across a socket reconnect while the server has it', async () => {
    const { client } = setup()
    const ws = connect(client)
    const pc = await provide(ws)
    pc.setState('connected')
    ws.serverClose(1006)
    await flushPromises(20)
    expect(client.status).toBe('reconnecting')
    expect(pc.closed).toBe(false)
    vi.advanceTimersByTime(20000)
    await flushPromises(20)

    // the server still has our peer (is_watching): nothing to negotiate
    const watching = init()
    watching.sessions = {
      ...watching.sessions,
      me: { id: 'me', profile: profile('alice'), state: { is_connected: true, is_watching: true } },
    }
    const ws2 = FakeWebSocket.last
    expect(ws2).not.toBe(ws)
    ws2.open()
    ws2.receive('system/init', watching)
    expect(pc.closed).toBe(false)
    expect(ws2.events()).not.toContain('signal/request')

    // it lost the peer meanwhile: a new one is asked for
    ws2.serverClose(1006)
    await flushPromises(20)
    vi.advanceTimersByTime(20000)
    await flushPromises(20)
    const ws3 = FakeWebSocket.last
    ws3.open()
    ws3.receive('system/init', init())
    expect(pc.closed).toBe(true)
    expect(ws3.events()).toContain('signal/request')
  })

  it('keeps retrying when the session is still valid', async () => {
    const { client } = setup()
    const statuses: string[] = []
    client.events.on('status', (s) => statuses.push(s))
    const ws = connect(client)
    ws.serverClose(1006)
    await flushPromises(20)
    expect(client.status).toBe('reconnecting')
    vi.advanceTimersByTime(20000)
    expect(FakeWebSocket.instances.length).toBeGreaterThan(1)
    expect(statuses.slice(0, 3)).toEqual(['connecting', 'connected', 'reconnecting'])
  })
})

describe('NekoClient data channel', () => {
  function fakeUrls() {
    const blobs: Blob[] = []
    const revoked: string[] = []
    const urls: ObjectUrls = {
      create: (blob) => {
        blobs.push(blob)
        return `blob:test/${blobs.length}`
      },
      revoke: (url) => void revoked.push(url),
    }
    return { urls, blobs, revoked }
  }

  async function withChannel() {
    const objects = fakeUrls()
    const { client } = setup(undefined, objects.urls)
    const ws = connect(client)
    const pc = await provide(ws)
    const dc = pc.emitDataChannel()
    const images: CursorImage[] = []
    const positions: Point[] = []
    const rtts: number[] = []
    const channel: boolean[] = []
    client.events.on('cursorImage', (c) => images.push(c))
    client.events.on('cursorPosition', (p) => positions.push(p))
    client.events.on('rtt', (r) => rtts.push(r))
    client.events.on('dataChannel', (o) => channel.push(o))
    return { client, ws, pc, dc, images, positions, rtts, channel, ...objects }
  }

  const bytes = (...b: number[]) => new Uint8Array(b).buffer

  it('emits cursor positions from the host', async () => {
    const { client, dc, positions } = await withChannel()
    dc.open()
    dc.receive(bytes(0x01, 0, 7, 0x03, 0x20, 0x01, 0x2c)) // 800, 300
    dc.receive(bytes(0x01, 0, 7, 0x03, 0x20, 0x01, 0x2c)) // unchanged: no event
    dc.receive(bytes(0x01, 0, 7, 0, 10, 0, 20))
    expect(positions).toEqual([
      { x: 800, y: 300 },
      { x: 10, y: 20 },
    ])
    expect(client.cursorPosition).toEqual({ x: 10, y: 20 })
  })

  it('emits cursor images as object URLs and revokes the previous one', async () => {
    const { client, dc, images, blobs, revoked } = await withChannel()
    dc.open()
    const png = [0x89, 0x50, 0x4e, 0x47]
    dc.receive(bytes(0x02, 0, 15, 0, 32, 0, 32, 0, 4, 0, 6, ...png))
    dc.receive(bytes(0x02, 0, 15, 0, 16, 0, 24, 0, 8, 0, 1, ...png))
    expect(images).toEqual([
      { width: 32, height: 32, xHot: 4, yHot: 6, url: 'blob:test/1' },
      { width: 16, height: 24, xHot: 8, yHot: 1, url: 'blob:test/2' },
    ])
    expect(blobs[0].type).toBe('image/png')
    expect([...new Uint8Array(await blobs[0].arrayBuffer())]).toEqual(png)
    expect(revoked).toEqual(['blob:test/1'])
    expect(client.cursorImage?.url).toBe('blob:test/2')
    client.disconnect()
    expect(revoked).toEqual(['blob:test/1', 'blob:test/2'])
    expect(client.cursorImage).toBeNull()
  })

  it('ignores malformed messages', async () => {
    const { dc, images, positions, rtts } = await withChannel()
    dc.open()
    dc.receive(bytes(0x01, 0, 8, 0, 1, 0, 2)) // length mismatch
    dc.receive(bytes(0x01, 0)) // short
    dc.receive(bytes(0x09, 0, 7, 0, 1, 0, 2)) // unknown op
    dc.receive(bytes(0x02, 0, 11, 0, 1, 0, 1, 0, 0, 0, 0)) // image without PNG
    dc.receive('string')
    expect([images, positions, rtts]).toEqual([[], [], []])
  })

  it('pings on open and periodically, and measures the RTT from the pong', async () => {
    vi.setSystemTime(1_700_000_000_000)
    const { client, dc, rtts, channel } = await withChannel()
    dc.open()
    expect(channel).toEqual([true])
    expect(dc.sent).toHaveLength(1)
    const ping = new DataView(dc.sent[0])
    expect(ping.getUint8(0)).toBe(0x07)
    expect(ping.getUint16(1)).toBe(11)
    const sent = splitTimestamp(1_700_000_000_000)
    expect([ping.getUint32(3), ping.getUint32(7)]).toEqual([sent.high, sent.low])

    vi.setSystemTime(1_700_000_000_042)
    const server = splitTimestamp(1_700_000_000_020)
    const pong = new DataView(new ArrayBuffer(19))
    pong.setUint8(0, 0x03)
    pong.setUint16(1, 19)
    pong.setUint32(3, sent.high)
    pong.setUint32(7, sent.low)
    pong.setUint32(11, server.high)
    pong.setUint32(15, server.low)
    dc.receive(pong.buffer)
    expect(rtts).toEqual([42])
    expect(client.rtt).toBe(42)

    vi.advanceTimersByTime(5000)
    expect(dc.sent).toHaveLength(2)
    dc.remoteClose()
    expect(channel).toEqual([true, false])
    vi.advanceTimersByTime(20000)
    expect(dc.sent).toHaveLength(2)
  })

  it('tracks our own moves as the cursor position while hosting', async () => {
    const { client, ws, dc, positions } = await withChannel()
    dc.open()
    ws.receive('control/host', { id: 'me', has_host: true, host_id: 'me' })
    client.input.move({ x: 5, y: 6 })
    expect(positions).toEqual([{ x: 5, y: 6 }])
    expect(ws.messages.at(-1)).toEqual({ event: 'control/move', payload: { x: 5, y: 6 } })
  })

  it('forgets the position when the channel goes away', async () => {
    const { client, ws, dc } = await withChannel()
    dc.open()
    dc.receive(bytes(0x01, 0, 7, 0, 1, 0, 2))
    expect(client.cursorPosition).toEqual({ x: 1, y: 2 })
    ws.receive('signal/close', null)
    expect(client.cursorPosition).toBeNull()
    expect(dc.closed).toBe(true)
  })
})
