import { describe, expect, it } from 'vitest'
import { clientToRemote, containRect, isOnPicture, remoteToClient, remoteToDisplay } from './coords'

const screen = { width: 1280, height: 720 }

describe('containRect', () => {
  it('pillarboxes a 16:9 picture in a 4:3 element (bars above/below)', () => {
    const r = containRect({ left: 0, top: 0, width: 800, height: 600 }, screen)
    expect(r).toEqual({ left: 0, top: 75, width: 800, height: 450 })
  })

  it('letterboxes a 16:9 picture in a wide element (bars left/right)', () => {
    const r = containRect({ left: 10, top: 20, width: 2000, height: 720 }, screen)
    expect(r).toEqual({ left: 370, top: 20, width: 1280, height: 720 })
  })

  it('returns the element when the picture size is unknown', () => {
    const el = { left: 5, top: 6, width: 7, height: 8 }
    expect(containRect(el, { width: 0, height: 0 })).toEqual(el)
  })
})

describe('clientToRemote', () => {
  it('maps 1:1 when the element matches the screen', () => {
    const el = { left: 0, top: 0, width: 1280, height: 720 }
    expect(clientToRemote(0, 0, el, screen, screen)).toEqual({ x: 0, y: 0 })
    expect(clientToRemote(640.4, 360.9, el, screen, screen)).toEqual({ x: 640, y: 360 })
  })

  it('accounts for the element offset and scale', () => {
    const el = { left: 100, top: 50, width: 640, height: 360 }
    expect(clientToRemote(100, 50, el, screen, screen)).toEqual({ x: 0, y: 0 })
    expect(clientToRemote(420, 230, el, screen, screen)).toEqual({ x: 640, y: 360 })
  })

  it('accounts for horizontal black bars (letterbox top/bottom)', () => {
    // 800x600 element, 16:9 picture → picture 800x450 at top 75
    const el = { left: 0, top: 0, width: 800, height: 600 }
    expect(clientToRemote(400, 75, el, screen, screen)).toEqual({ x: 640, y: 0 })
    expect(clientToRemote(400, 300, el, screen, screen)).toEqual({ x: 640, y: 360 })
    expect(clientToRemote(799.99, 524.99, el, screen, screen)).toEqual({ x: 1279, y: 719 })
  })

  it('accounts for vertical black bars (pillarbox left/right)', () => {
    // 1000x400 element → picture 711.1x400 starting at x = 144.4
    const el = { left: 0, top: 0, width: 1000, height: 400 }
    const left = (1000 - (1280 * 400) / 720) / 2
    expect(clientToRemote(left, 0, el, screen, screen)).toEqual({ x: 0, y: 0 })
    expect(clientToRemote(500, 200, el, screen, screen)).toEqual({ x: 640, y: 360 })
  })

  it('clamps points on the bars / outside to the screen', () => {
    const el = { left: 0, top: 0, width: 800, height: 600 }
    expect(clientToRemote(-50, 10, el, screen, screen)).toEqual({ x: 0, y: 0 })
    expect(clientToRemote(900, 590, el, screen, screen)).toEqual({ x: 1279, y: 719 })
  })

  it('uses the video picture aspect and scales to the screen size', () => {
    // the stream is downscaled to 640x360, the screen is still 1280x720
    const el = { left: 0, top: 0, width: 800, height: 600 }
    expect(clientToRemote(400, 300, el, { width: 640, height: 360 }, screen)).toEqual({
      x: 640,
      y: 360,
    })
  })

  it('falls back to the screen aspect before the video has a size', () => {
    const el = { left: 0, top: 0, width: 800, height: 600 }
    expect(clientToRemote(400, 75, el, { width: 0, height: 0 }, screen)).toEqual({ x: 640, y: 0 })
  })

  it('returns integers', () => {
    const el = { left: 0.3, top: 0.7, width: 333.3, height: 187.5 }
    const p = clientToRemote(111.1, 99.9, el, screen, screen)
    expect(Number.isInteger(p.x)).toBe(true)
    expect(Number.isInteger(p.y)).toBe(true)
  })
})

describe('remoteToClient', () => {
  it('is the inverse of clientToRemote (round trip)', () => {
    const el = { left: 30, top: 40, width: 1000, height: 800 }
    for (const [x, y] of [
      [0, 0],
      [1279, 719],
      [640, 360],
      [17, 701],
    ]) {
      const c = remoteToClient(x, y, el, screen, screen)
      expect(isOnPicture(c.x, c.y, el, screen, screen)).toBe(true)
      expect(clientToRemote(c.x, c.y, el, screen, screen)).toEqual({ x, y })
    }
  })
})

describe('remoteToDisplay', () => {
  it('maps a pixel corner through the letterbox with the display scale', () => {
    const el = { left: 0, top: 0, width: 800, height: 600 } // bars above/below
    expect(remoteToDisplay(0, 0, el, screen, screen)).toEqual({ x: 0, y: 75, scale: 0.625 })
    expect(remoteToDisplay(640, 360, el, screen, screen)).toEqual({ x: 400, y: 300, scale: 0.625 })
  })

  it('scales with the screen even when the video is smaller', () => {
    const el = { left: 0, top: 0, width: 2560, height: 1440 }
    const p = remoteToDisplay(100, 50, el, { width: 640, height: 360 }, screen)
    expect(p).toEqual({ x: 200, y: 100, scale: 2 })
  })

  it('agrees with clientToRemote', () => {
    const el = { left: 12, top: 34, width: 1000, height: 900 }
    const p = remoteToDisplay(321, 123, el, screen, screen)
    expect(clientToRemote(p.x + 0.01, p.y + 0.01, el, screen, screen)).toEqual({ x: 321, y: 123 })
  })
})
