// WebRTC data channel, v3 binary layout (see reference/datachannel.md).
// Every message: op uint8, length uint16 (the whole message, header
// included), then the body; all integers big-endian. Pure functions only:
// decoding never throws, malformed messages decode to null.

/** Server → client: the host's pointer position (remote screen pixels). */
export const DATA_OP_CURSOR_POSITION = 0x01
/** Server → client: the cursor image (PNG) and its hotspot. */
export const DATA_OP_CURSOR_IMAGE = 0x02
/** Server → client: answer to a ping. */
export const DATA_OP_PONG = 0x03
/** Client → server: ping with the client time. */
export const DATA_OP_PING = 0x07

export const DATA_HEADER_LENGTH = 3
const CURSOR_POSITION_LENGTH = DATA_HEADER_LENGTH + 4
const CURSOR_IMAGE_MIN_LENGTH = DATA_HEADER_LENGTH + 8
const PONG_LENGTH = DATA_HEADER_LENGTH + 16
const PING_LENGTH = DATA_HEADER_LENGTH + 8

/**
 * Timestamps travel as two uint32: high = ts / (2^32 − 1), low = ts mod
 * (2^32 − 1). The divisor is 2^32 − 1, not 2^32: a quirk of the neko wire
 * format, kept for compatibility.
 */
export const TIMESTAMP_DIVISOR = 0xffffffff

export interface CursorPositionMessage {
  type: 'cursorPosition'
  x: number
  y: number
}

export interface CursorImageMessage {
  type: 'cursorImage'
  width: number
  height: number
  xHot: number
  yHot: number
  /** The PNG bytes (a copy, independent of the decoded buffer). */
  png: Uint8Array<ArrayBuffer>
}

export interface PongMessage {
  type: 'pong'
  /** The client time echoed from the ping (ms). */
  clientTime: number
  /** The server time when it answered (ms). */
  serverTime: number
}

export type DataMessage = CursorPositionMessage | CursorImageMessage | PongMessage

export function splitTimestamp(ts: number): { high: number; low: number } {
  const t = Math.max(0, Math.floor(ts))
  return { high: Math.floor(t / TIMESTAMP_DIVISOR) >>> 0, low: t % TIMESTAMP_DIVISOR }
}

export function joinTimestamp(high: number, low: number): number {
  return high * TIMESTAMP_DIVISOR + low
}

function toView(data: unknown): DataView | null {
  if (data instanceof ArrayBuffer) return new DataView(data)
  if (ArrayBuffer.isView(data)) return new DataView(data.buffer, data.byteOffset, data.byteLength)
  return null
}

/**
 * Decodes one server → client message. Returns null (never throws) for
 * anything malformed: not binary, shorter than its header or body, a header
 * length different from the real length, or an unknown op.
 */
export function decodeDataMessage(data: unknown): DataMessage | null {
  const view = toView(data)
  if (!view || view.byteLength < DATA_HEADER_LENGTH) return null
  const op = view.getUint8(0)
  const length = view.getUint16(1)
  if (length !== view.byteLength) return null
  switch (op) {
    case DATA_OP_CURSOR_POSITION:
      if (length !== CURSOR_POSITION_LENGTH) return null
      return { type: 'cursorPosition', x: view.getUint16(3), y: view.getUint16(5) }
    case DATA_OP_CURSOR_IMAGE: {
      if (length <= CURSOR_IMAGE_MIN_LENGTH) return null // no PNG bytes
      const png = new Uint8Array(length - CURSOR_IMAGE_MIN_LENGTH)
      png.set(
        new Uint8Array(
          view.buffer,
          view.byteOffset + CURSOR_IMAGE_MIN_LENGTH,
          length - CURSOR_IMAGE_MIN_LENGTH,
        ),
      )
      return {
        type: 'cursorImage',
        width: view.getUint16(3),
        height: view.getUint16(5),
        xHot: view.getUint16(7),
        yHot: view.getUint16(9),
        png,
      }
    }
    case DATA_OP_PONG:
      if (length !== PONG_LENGTH) return null
      return {
        type: 'pong',
        clientTime: joinTimestamp(view.getUint32(3), view.getUint32(7)),
        serverTime: joinTimestamp(view.getUint32(11), view.getUint32(15)),
      }
    default:
      return null
  }
}

/** Encodes a ping (op 0x07) carrying `ts` (ms, e.g. Date.now()). */
export function encodePing(ts: number): ArrayBuffer {
  const buf = new ArrayBuffer(PING_LENGTH)
  const view = new DataView(buf)
  const { high, low } = splitTimestamp(ts)
  view.setUint8(0, DATA_OP_PING)
  view.setUint16(1, PING_LENGTH)
  view.setUint32(3, high)
  view.setUint32(7, low)
  return buf
}
