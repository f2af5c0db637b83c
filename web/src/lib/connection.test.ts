import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { Connection, backoffDelay, type ConnectionStatus } from './connection'
import { silentLogger } from './log'
import { FakeWebSocket, flushPromises } from './test-fakes'
import type { SystemInitPayload } from './protocol'

function initPayload(heartbeat = 0): SystemInitPayload {
  return {
    session_id: 'me',
    control_host: { has_host: false },
    screen_size: { width: 1280, height: 720, rate: 30 },
    sessions: {},
    settings: {
      private_mode: false,
      locked_logins: false,
      locked_controls: false,
      control_protection: false,
      implicit_hosting: false,
      inactive_cursors: false,
      merciful_reconnect: false,
      heartbeat_interval: heartbeat,
    },
  }
}

function makeConnection(extra: Partial<ConstructorParameters<typeof Connection>[0]> = {}) {
  const conn = new Connection({
    url: () => 'ws://test/api/ws',
    createWebSocket: (url) => new FakeWebSocket(url),
    logger: silentLogger,
    random: () => 0.5, // no jitter
    ...extra,
  })
  const statuses: ConnectionStatus[] = []
  conn.lifecycle.on('status', (s) => statuses.push(s))
  return { conn, statuses }
}

beforeEach(() => {
  vi.useFakeTimers()
  FakeWebSocket.reset()
})

afterEach(() => {
  vi.useRealTimers()
})

describe('backoffDelay', () => {
  it('grows exponentially up to the maximum', () => {
    const opts = { initial: 1000, max: 15000, factor: 2, jitter: 0 }
    expect([0, 1, 2, 3, 4, 5, 10].map((n) => backoffDelay(n, opts))).toEqual([
      1000, 2000, 4000, 8000, 15000, 15000, 15000,
    ])
  })

  it('applies the jitter in both directions', () => {
    const opts = { initial: 1000, max: 15000, factor: 2, jitter: 0.2 }
    expect(backoffDelay(0, opts, () => 0)).toBe(800)
    expect(backoffDelay(0, opts, () => 1)).toBe(1200)
  })
})

describe('Connection', () => {
  it('dispatches typed server events and reports status', () => {
    const { conn, statuses } = makeConnection()
    const inits: SystemInitPayload[] = []
    const hosts: unknown[] = []
    conn.on('system/init', (p) => inits.push(p))
    conn.on('control/host', (p) => hosts.push(p))

    conn.connect()
    expect(conn.status).toBe('connecting')
    const ws = FakeWebSocket.last
    expect(ws.url).toBe('ws://test/api/ws')
    ws.open()
    ws.receive('system/init', initPayload())
    ws.receive('control/host', { id: 'a', has_host: true, host_id: 'a' })

    expect(inits).toHaveLength(1)
    expect(inits[0].session_id).toBe('me')
    expect(hosts).toEqual([{ id: 'a', has_host: true, host_id: 'a' }])
    expect(statuses).toEqual(['connecting', 'connected'])
  })

  it('ignores unknown events and malformed frames', () => {
    const { conn } = makeConnection()
    const seen: string[] = []
    conn.on('session/deleted', (p) => seen.push(p.id))
    conn.connect()
    const ws = FakeWebSocket.last
    ws.open()
    expect(() => {
      ws.receive('plugin/whatever', { x: 1 })
      ws.receiveRaw('not json')
      ws.receiveRaw(JSON.stringify([1, 2]))
      ws.receiveRaw(new ArrayBuffer(4))
      ws.receive('session/deleted', 'not an object')
    }).not.toThrow()
    ws.receive('session/deleted', { id: 'x' })
    expect(seen).toEqual(['x'])
  })

  it('does not let a throwing listener break dispatch', () => {
    const { conn } = makeConnection()
    const spy = vi.spyOn(console, 'error').mockImplementation(() => {})
    const seen: string[] = []
    conn.on('session/deleted', () => {
      throw new Error('boom')
    })
    conn.on('session/deleted', (p) => seen.push(p.id))
    conn.connect()
    FakeWebSocket.last.open()
    FakeWebSocket.last.receive('session/deleted', { id: 'y' })
    expect(seen).toEqual(['y'])
    spy.mockRestore()
  })

  it('sends typed client events as JSON envelopes', () => {
    const { conn } = makeConnection()
    conn.connect()
    const ws = FakeWebSocket.last
    expect(conn.send('control/request', null)).toBe(false) // not open yet
    ws.open()
    expect(conn.send('control/request', null)).toBe(true)
    conn.send('control/move', { x: 10, y: 20 })
    expect(ws.sent).toEqual([
      '{"event":"control/request"}',
      '{"event":"control/move","payload":{"x":10,"y":20}}',
    ])
  })

  it('reconnects with exponential backoff and resets after system/init', async () => {
    const { conn, statuses } = makeConnection({
      backoff: { initial: 1000, max: 8000, factor: 2, jitter: 0 },
    })
    conn.connect()
    FakeWebSocket.last.open()
    FakeWebSocket.last.receive('system/init', initPayload())
    FakeWebSocket.last.serverClose()
    await flushPromises()
    expect(conn.status).toBe('reconnecting')
    expect(FakeWebSocket.instances).toHaveLength(1)

    // 1st retry after 1 s
    vi.advanceTimersByTime(999)
    expect(FakeWebSocket.instances).toHaveLength(1)
    vi.advanceTimersByTime(1)
    expect(FakeWebSocket.instances).toHaveLength(2)

    // fails → 2 s, fails → 4 s, fails → 8 s, fails → 8 s (max)
    for (const delay of [2000, 4000, 8000, 8000]) {
      FakeWebSocket.last.serverClose()
      await flushPromises()
      const before = FakeWebSocket.instances.length
      vi.advanceTimersByTime(delay - 1)
      expect(FakeWebSocket.instances).toHaveLength(before)
      vi.advanceTimersByTime(1)
      expect(FakeWebSocket.instances).toHaveLength(before + 1)
    }

    // success resets the backoff
    FakeWebSocket.last.open()
    FakeWebSocket.last.receive('system/init', initPayload())
    expect(conn.status).toBe('connected')
    expect(conn.attempts).toBe(0)
    FakeWebSocket.last.serverClose()
    await flushPromises()
    const before = FakeWebSocket.instances.length
    vi.advanceTimersByTime(1000)
    expect(FakeWebSocket.instances).toHaveLength(before + 1)
    expect(statuses).toContain('reconnecting')
  })

  it('stops when shouldReconnect says no (e.g. not logged in)', async () => {
    const shouldReconnect = vi.fn(async () => false)
    const { conn } = makeConnection({ shouldReconnect })
    const closed: boolean[] = []
    conn.lifecycle.on('closed', (c) => closed.push(c.reconnecting))
    conn.connect()
    FakeWebSocket.last.serverClose(1006)
    await flushPromises()
    expect(shouldReconnect).toHaveBeenCalledWith({ code: 1006, reason: '', initialized: false })
    expect(conn.status).toBe('disconnected')
    expect(closed).toEqual([false])
    vi.advanceTimersByTime(60000)
    expect(FakeWebSocket.instances).toHaveLength(1)
  })

  it('does not reconnect after disconnect()', async () => {
    const { conn } = makeConnection()
    conn.connect()
    const ws = FakeWebSocket.last
    ws.open()
    conn.disconnect()
    expect(ws.closed).toBe(true)
    expect(conn.status).toBe('disconnected')
    ws.serverClose()
    await flushPromises()
    vi.advanceTimersByTime(60000)
    expect(FakeWebSocket.instances).toHaveLength(1)
  })

  it('sends client/heartbeat every heartbeat_interval seconds', () => {
    const { conn } = makeConnection()
    conn.connect()
    const ws = FakeWebSocket.last
    ws.open()
    ws.receive('system/init', initPayload(10))
    vi.advanceTimersByTime(9999)
    expect(ws.events()).toEqual([])
    vi.advanceTimersByTime(1)
    expect(ws.events()).toEqual(['client/heartbeat'])
    vi.advanceTimersByTime(20000)
    expect(ws.events()).toEqual(['client/heartbeat', 'client/heartbeat', 'client/heartbeat'])
    expect(ws.sent[0]).toBe('{"event":"client/heartbeat"}')
  })

  it('sends no heartbeat when the interval is 0', () => {
    const { conn } = makeConnection()
    conn.connect()
    FakeWebSocket.last.open()
    FakeWebSocket.last.receive('system/init', initPayload(0))
    vi.advanceTimersByTime(600000)
    expect(FakeWebSocket.last.events()).toEqual([])
  })

  it('replaces a silent socket once the server has sent heartbeats', async () => {
    const { conn } = makeConnection({ backoff: { initial: 100, jitter: 0 } })
    conn.connect()
    const ws = FakeWebSocket.last
    ws.open()
    ws.receive('system/init', initPayload(4))
    ws.receive('system/heartbeat')
    // silence for more than max(2.5 × 4 s, 15 s)
    vi.advanceTimersByTime(20000)
    await flushPromises()
    expect(ws.closed).toBe(true)
    expect(conn.status).toBe('reconnecting')
    vi.advanceTimersByTime(100)
    expect(FakeWebSocket.instances).toHaveLength(2)
  })

  it('uses a fresh URL (token) for every attempt', async () => {
    let n = 0
    const { conn } = makeConnection({
      url: () => `ws://test/api/ws?token=t${++n}`,
      backoff: { initial: 10, jitter: 0 },
    })
    conn.connect()
    FakeWebSocket.last.serverClose()
    await flushPromises()
    vi.advanceTimersByTime(10)
    expect(FakeWebSocket.instances.map((w) => w.url)).toEqual([
      'ws://test/api/ws?token=t1',
      'ws://test/api/ws?token=t2',
    ])
  })
})
