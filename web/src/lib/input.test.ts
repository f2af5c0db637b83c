import { describe, expect, it } from 'vitest'
import { HostInput, WHEEL_MAX_CLICKS, WheelAccumulator, buttonCode, wheelToPixels } from './input'

function setup() {
  const sent: { event: string; payload: unknown }[] = []
  const ticks: (() => void)[] = []
  const input = new HostInput((event, payload) => sent.push({ event, payload }), {
    schedule: (fn) => ticks.push(fn),
  })
  const tick = () => ticks.splice(0).forEach((fn) => fn())
  return { input, sent, tick }
}

describe('buttonCode', () => {
  it('maps MouseEvent.button to X buttons', () => {
    expect([0, 1, 2, 3, 4].map(buttonCode)).toEqual([1, 2, 3, 8, 9])
    expect(buttonCode(5)).toBeNull()
  })
})

describe('wheel normalisation', () => {
  it('converts lines and pages to pixels', () => {
    expect(wheelToPixels({ deltaX: 0, deltaY: 3, deltaMode: 1, ctrlKey: false })).toEqual({
      x: 0,
      y: 120,
    })
    expect(wheelToPixels({ deltaX: -1, deltaY: 0, deltaMode: 2, ctrlKey: false })).toEqual({
      x: -800,
      y: 0,
    })
    expect(wheelToPixels({ deltaX: 5, deltaY: 100, deltaMode: 0, ctrlKey: false })).toEqual({
      x: 5,
      y: 100,
    })
  })

  it('sends one click per mouse-wheel notch, whatever its size in pixels', () => {
    const acc = new WheelAccumulator()
    for (const deltaY of [53, 100, 120]) {
      acc.add({ deltaX: 0, deltaY, deltaMode: 0, ctrlKey: false })
      // wheel down → negative on the wire (positive = up)
      expect(acc.take()).toEqual({ delta_x: 0, delta_y: -1, control_key: false })
    }
    acc.add({ deltaX: 0, deltaY: -3, deltaMode: 1, ctrlKey: false }) // Firefox notch up
    expect(acc.take()).toEqual({ delta_x: 0, delta_y: 1, control_key: false })
    acc.add({ deltaX: 120, deltaY: 0, deltaMode: 0, ctrlKey: true }) // tilt right
    expect(acc.take()).toEqual({ delta_x: -1, delta_y: 0, control_key: true })
  })

  it('scales big deltas and clamps them per message', () => {
    const acc = new WheelAccumulator()
    acc.add({ deltaX: 0, deltaY: 360, deltaMode: 0, ctrlKey: false })
    expect(acc.take()?.delta_y).toBe(-3)
    acc.add({ deltaX: 0, deltaY: 1, deltaMode: 2, ctrlKey: false }) // one page
    expect(acc.take()?.delta_y).toBe(-7)
    acc.add({ deltaX: 0, deltaY: -100, deltaMode: 1, ctrlKey: false })
    expect(acc.take()?.delta_y).toBe(WHEEL_MAX_CLICKS)
  })

  it('accumulates small touchpad deltas into clicks', () => {
    const acc = new WheelAccumulator()
    for (let i = 0; i < 4; i++) acc.add({ deltaX: 0, deltaY: 10, deltaMode: 0, ctrlKey: false })
    expect(acc.take()).toBeNull() // 40 px < one step
    acc.add({ deltaX: 0, deltaY: 15, deltaMode: 0, ctrlKey: false })
    expect(acc.take()?.delta_y).toBe(-1) // 55 px → 1 click, 5 px carried
    for (let i = 0; i < 9; i++) acc.add({ deltaX: 0, deltaY: 5, deltaMode: 0, ctrlKey: false })
    expect(acc.take()?.delta_y).toBe(-1) // 5 + 45 = 50 px
    // reversing direction drops the carried remainder
    acc.add({ deltaX: 0, deltaY: 30, deltaMode: 0, ctrlKey: false })
    acc.add({ deltaX: 0, deltaY: -30, deltaMode: 0, ctrlKey: false })
    expect(acc.take()).toBeNull()
  })
})

describe('HostInput', () => {
  it('coalesces pointer moves per tick', () => {
    const { input, sent, tick } = setup()
    input.move({ x: 1, y: 1 })
    input.move({ x: 2, y: 2 })
    input.move({ x: 3, y: 4 })
    expect(sent).toEqual([])
    tick()
    expect(sent).toEqual([{ event: 'control/move', payload: { x: 3, y: 4 } }])
    input.move({ x: 3, y: 4 }) // unchanged → nothing
    tick()
    expect(sent).toHaveLength(1)
  })

  it('flushes a pending move before a button press', () => {
    const { input, sent } = setup()
    input.move({ x: 10, y: 20 })
    input.buttonDown(0, { x: 11, y: 21 })
    input.buttonUp(0, { x: 12, y: 22 })
    expect(sent).toEqual([
      { event: 'control/move', payload: { x: 10, y: 20 } },
      { event: 'control/buttondown', payload: { code: 1, x: 11, y: 21 } },
      { event: 'control/buttonup', payload: { code: 1, x: 12, y: 22 } },
    ])
  })

  it('coalesces scroll clicks per tick and sends the control key', () => {
    const { input, sent, tick } = setup()
    input.scroll({ deltaX: 0, deltaY: 3, deltaMode: 1, ctrlKey: false })
    input.scroll({ deltaX: 0, deltaY: 3, deltaMode: 1, ctrlKey: true })
    tick()
    expect(sent).toEqual([
      { event: 'control/scroll', payload: { delta_x: 0, delta_y: -2, control_key: true } },
    ])
  })

  it('releases keys with the keysym they went down with', () => {
    const { input, sent } = setup()
    expect(input.keyDown({ key: 'Shift', code: 'ShiftLeft', location: 1 })).toBe(true)
    expect(input.keyDown({ key: '!', code: 'Digit1' })).toBe(true)
    expect(input.keyUp({ key: 'Shift', code: 'ShiftLeft', location: 1 })).toBe(true)
    expect(input.keyUp({ key: '1', code: 'Digit1' })).toBe(true)
    expect(sent.map((s) => [s.event, (s.payload as { keysym: number }).keysym])).toEqual([
      ['control/keydown', 0xffe1],
      ['control/keydown', 0x21],
      ['control/keyup', 0xffe1],
      ['control/keyup', 0x21],
    ])
  })

  it('does not handle unmapped keys', () => {
    const { input, sent } = setup()
    expect(input.keyDown({ key: 'Dead', code: 'Quote' })).toBe(false)
    expect(input.keyUp({ key: 'Dead', code: 'Quote' })).toBe(false)
    expect(sent).toEqual([])
  })

  it('releaseAll sends keyup for held keys and buttonup for held buttons', () => {
    const { input, sent } = setup()
    input.keyDown({ key: 'Control', code: 'ControlLeft', location: 1 })
    input.keyDown({ key: 'a', code: 'KeyA' })
    input.buttonDown(2, { x: 5, y: 6 })
    sent.length = 0
    input.releaseAll()
    expect(sent).toEqual([
      { event: 'control/keyup', payload: { keysym: 0xffe3 } },
      { event: 'control/keyup', payload: { keysym: 0x61 } },
      { event: 'control/buttonup', payload: { code: 3, x: 5, y: 6 } },
    ])
    sent.length = 0
    input.releaseAll()
    expect(sent).toEqual([])
  })
})
