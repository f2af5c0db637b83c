import { describe, expect, it } from 'vitest'
import { decodeServerMessage, encodeClientMessage, isServerEvent } from './protocol'

describe('protocol', () => {
  it('decodes known events', () => {
    const r = decodeServerMessage('{"event":"session/deleted","payload":{"id":"x"}}')
    expect(r).toEqual({ ok: true, message: { event: 'session/deleted', payload: { id: 'x' } } })
  })

  it('accepts events without payload', () => {
    expect(decodeServerMessage('{"event":"system/heartbeat"}')).toEqual({
      ok: true,
      message: { event: 'system/heartbeat', payload: null },
    })
    expect(decodeServerMessage('{"event":"signal/close","payload":null}')).toEqual({
      ok: true,
      message: { event: 'signal/close', payload: null },
    })
  })

  it('reports unknown and malformed messages', () => {
    expect(decodeServerMessage('{"event":"x/y","payload":{}}')).toEqual({
      ok: false,
      reason: 'unknown',
      event: 'x/y',
    })
    expect(decodeServerMessage('nope')).toEqual({ ok: false, reason: 'invalid' })
    expect(decodeServerMessage('{"payload":{}}')).toEqual({ ok: false, reason: 'invalid' })
    expect(decodeServerMessage('{"event":"control/host"}')).toEqual({
      ok: false,
      reason: 'invalid',
      event: 'control/host',
    })
  })

  it('does not treat Object.prototype keys as events', () => {
    expect(isServerEvent('toString')).toBe(false)
    expect(isServerEvent('__proto__')).toBe(false)
  })

  it('encodes client messages', () => {
    expect(encodeClientMessage('control/release', null)).toBe('{"event":"control/release"}')
    expect(encodeClientMessage('control/keydown', { keysym: 97 })).toBe(
      '{"event":"control/keydown","payload":{"keysym":97}}',
    )
  })
})
