import { describe, expect, it } from 'vitest'
import {
  DATA_OP_PING,
  TIMESTAMP_DIVISOR,
  decodeDataMessage,
  encodePing,
  joinTimestamp,
  splitTimestamp,
} from './datachannel'

/** Builds a message from bytes; `length` overrides the header length. */
function msg(op: number, body: number[], length?: number): ArrayBuffer {
  const total = 3 + body.length
  const l = length ?? total
  return new Uint8Array([op, (l >> 8) & 0xff, l & 0xff, ...body]).buffer
}

const u16 = (v: number) => [(v >> 8) & 0xff, v & 0xff]
const u32 = (v: number) => [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]
const PNG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]

describe('decodeDataMessage', () => {
  it('decodes a cursor position (big-endian)', () => {
    expect(decodeDataMessage(msg(0x01, [...u16(1919), ...u16(258)]))).toEqual({
      type: 'cursorPosition',
      x: 1919,
      y: 258,
    })
    expect(decodeDataMessage(msg(0x01, [...u16(65535), ...u16(0)]))).toEqual({
      type: 'cursorPosition',
      x: 65535,
      y: 0,
    })
  })

  it('decodes a cursor image with its PNG bytes', () => {
    const m = decodeDataMessage(msg(0x02, [...u16(32), ...u16(24), ...u16(5), ...u16(300), ...PNG]))
    expect(m).toMatchObject({ type: 'cursorImage', width: 32, height: 24, xHot: 5, yHot: 300 })
    expect(m?.type === 'cursorImage' && [...m.png]).toEqual(PNG)
  })

  it('copies the PNG out of the (reusable) buffer', () => {
    const bytes = new Uint8Array(msg(0x02, [...u16(1), ...u16(1), 0, 0, 0, 0, ...PNG]))
    const m = decodeDataMessage(bytes)
    bytes.fill(0)
    expect(m?.type === 'cursorImage' && m.png[0]).toBe(0x89)
  })

  it('decodes a pong with the 2^32-1 timestamp split', () => {
    const client = 1_700_000_000_123
    const server = 1_700_000_000_456
    const c = splitTimestamp(client)
    const s = splitTimestamp(server)
    const m = decodeDataMessage(
      msg(0x03, [...u32(c.high), ...u32(c.low), ...u32(s.high), ...u32(s.low)]),
    )
    expect(m).toEqual({ type: 'pong', clientTime: client, serverTime: server })
  })

  it('accepts typed-array views with an offset', () => {
    const raw = new Uint8Array([9, 9, ...new Uint8Array(msg(0x01, [...u16(7), ...u16(8)]))])
    expect(decodeDataMessage(raw.subarray(2))).toEqual({ type: 'cursorPosition', x: 7, y: 8 })
  })

  it('ignores malformed input without throwing', () => {
    const bad: unknown[] = [
      null,
      undefined,
      'text',
      42,
      {},
      new ArrayBuffer(0),
      new Uint8Array([0x01]).buffer,
      new Uint8Array([0x01, 0x00]).buffer,
      msg(0x01, [0, 1, 0]), // short body
      msg(0x01, [0, 1, 0, 2, 9]), // long body
      msg(0x01, [0, 1, 0, 2], 8), // header length too big
      msg(0x01, [0, 1, 0, 2], 6), // header length too small
      msg(0x01, [0, 1, 0, 2], 0),
      msg(0x02, [...u16(1), ...u16(1), 0, 0, 0, 0]), // image without PNG
      msg(0x02, [...u16(1), ...u16(1), 0, 0]), // short image header
      msg(0x02, [...u16(1), ...u16(1), 0, 0, 0, 0, ...PNG], 11), // length mismatch
      msg(0x03, [...u32(0), ...u32(1), ...u32(0)]), // short pong
      msg(0x07, [...u32(0), ...u32(1)]), // ping is client → server
      msg(0x00, [0, 0, 0, 0]),
      msg(0xff, [0, 0, 0, 0]),
    ]
    for (const b of bad) {
      expect(() => decodeDataMessage(b)).not.toThrow()
      expect(decodeDataMessage(b)).toBeNull()
    }
  })

  it('never throws on random bytes', () => {
    let seed = 12345
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 256
    for (let i = 0; i < 2000; i++) {
      const n = rnd() % 40
      const bytes = new Uint8Array(n).map(() => rnd())
      if (n >= 3 && i % 2 === 0) {
        bytes[0] = 1 + (rnd() % 3)
        bytes[1] = 0
        bytes[2] = n
      }
      expect(() => decodeDataMessage(bytes.buffer)).not.toThrow()
    }
  })
})

describe('encodePing', () => {
  it('encodes op, length and the split timestamp big-endian', () => {
    const ts = 1_700_000_000_123
    const bytes = [...new Uint8Array(encodePing(ts))]
    const high = Math.floor(ts / 4294967295)
    const low = ts % 4294967295
    expect(bytes).toEqual([DATA_OP_PING, 0, 11, ...u32(high), ...u32(low)])
  })

  it('round-trips through the split', () => {
    const view = new DataView(encodePing(1234567890123))
    expect(joinTimestamp(view.getUint32(3), view.getUint32(7))).toBe(1234567890123)
  })
})

describe('timestamp split', () => {
  it('uses 2^32-1 as the divisor', () => {
    expect(TIMESTAMP_DIVISOR).toBe(4294967295)
    expect(splitTimestamp(4294967295)).toEqual({ high: 1, low: 0 })
    expect(splitTimestamp(4294967296)).toEqual({ high: 1, low: 1 })
    expect(splitTimestamp(4294967294)).toEqual({ high: 0, low: 4294967294 })
    expect(splitTimestamp(0)).toEqual({ high: 0, low: 0 })
    expect(splitTimestamp(-5)).toEqual({ high: 0, low: 0 })
  })
})
