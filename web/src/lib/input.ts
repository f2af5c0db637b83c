// Host input: turns DOM-level mouse / wheel / keyboard data into control
// events. Framework and DOM free apart from plain data in, events out.

import type { Point } from './coords'
import { KeyTracker, type KeyLike } from './keysyms'
import {
  CONTROL_BUTTONDOWN,
  CONTROL_BUTTONUP,
  CONTROL_KEYDOWN,
  CONTROL_KEYUP,
  CONTROL_MOVE,
  CONTROL_SCROLL,
  type ClientEventMap,
} from './protocol'

type ControlEvent =
  | typeof CONTROL_MOVE
  | typeof CONTROL_SCROLL
  | typeof CONTROL_BUTTONDOWN
  | typeof CONTROL_BUTTONUP
  | typeof CONTROL_KEYDOWN
  | typeof CONTROL_KEYUP

export type ControlSender = <K extends ControlEvent>(event: K, payload: ClientEventMap[K]) => void

/** MouseEvent.button → X button: 1 left, 2 middle, 3 right, 8 back, 9 forward. */
export function buttonCode(button: number): number | null {
  switch (button) {
    case 0:
      return 1
    case 1:
      return 2
    case 2:
      return 3
    case 3:
      return 8
    case 4:
      return 9
    default:
      return null
  }
}

/*
 * Wheel units — wire convention of the neko v3 clients, which the server
 * (internal/desktop/input.go, Desktop.Scroll) implements:
 *  - one unit of delta_x / delta_y is ONE X wheel click (no sub-click
 *    remainder on the server; the server caps clicks per message);
 *  - the sign is inverted with respect to WheelEvent: delta_y > 0 scrolls UP
 *    (X button 4), delta_y < 0 down (5); delta_x > 0 scrolls LEFT (6),
 *    delta_x < 0 right (7). So a browser wheel-down (deltaY > 0) is sent as
 *    delta_y = -1.
 *
 * Browser deltas are first normalised to pixels (DOM_DELTA_LINE: 40 px per
 * line, so Firefox's 3-line notch = 120 px; DOM_DELTA_PAGE: 800 px). Then:
 *  - a "notch-like" event (line/page mode, or |pixels| >= WHEEL_STEP_PX)
 *    gives max(1, round(|px| / WHEEL_NOTCH_PX)) clicks, so a mouse-wheel
 *    notch is one click whatever the browser reports (53, 100 or 120 px);
 *  - small pixel deltas (touchpads, smooth scrolling) accumulate: one click
 *    per WHEEL_STEP_PX, the remainder carried over.
 * Per message the clicks are clamped to ±WHEEL_MAX_CLICKS.
 */
export const WHEEL_LINE_PX = 40
export const WHEEL_PAGE_PX = 800
export const WHEEL_NOTCH_PX = 120
export const WHEEL_STEP_PX = 50
export const WHEEL_MAX_CLICKS = 10

export interface WheelLike {
  deltaX: number
  deltaY: number
  deltaMode: number
  ctrlKey: boolean
}

export function wheelToPixels(ev: WheelLike): { x: number; y: number } {
  const factor = ev.deltaMode === 1 ? WHEEL_LINE_PX : ev.deltaMode === 2 ? WHEEL_PAGE_PX : 1
  return { x: (ev.deltaX || 0) * factor, y: (ev.deltaY || 0) * factor }
}

function clampClicks(v: number): number {
  return Math.max(-WHEEL_MAX_CLICKS, Math.min(WHEEL_MAX_CLICKS, v))
}

/** Turns wheel events into whole clicks per axis (browser sign). */
class WheelAxis {
  private rest = 0
  clicks = 0

  add(px: number, discrete: boolean): void {
    if (!px) return
    if (discrete || Math.abs(px) >= WHEEL_STEP_PX) {
      this.rest = 0
      this.clicks += Math.sign(px) * Math.max(1, Math.round(Math.abs(px) / WHEEL_NOTCH_PX))
      return
    }
    if (this.rest !== 0 && Math.sign(this.rest) !== Math.sign(px)) this.rest = 0 // reversed
    this.rest += px
    const n = Math.trunc(this.rest / WHEEL_STEP_PX)
    this.rest -= n * WHEEL_STEP_PX
    this.clicks += n
  }

  take(): number {
    const n = clampClicks(this.clicks)
    this.clicks = 0
    return n
  }

  reset(): void {
    this.rest = 0
    this.clicks = 0
  }
}

/**
 * Collects wheel events and hands out `control/scroll` payloads in the wire
 * convention described above (whole clicks, positive = up / left).
 */
export class WheelAccumulator {
  private readonly x = new WheelAxis()
  private readonly y = new WheelAxis()
  private ctrl = false

  add(ev: WheelLike): void {
    const px = wheelToPixels(ev)
    const discrete = ev.deltaMode !== 0
    this.x.add(px.x, discrete)
    this.y.add(px.y, discrete)
    this.ctrl = ev.ctrlKey
  }

  /** The payload to send now, or null when there is nothing to send. */
  take(): { delta_x: number; delta_y: number; control_key: boolean } | null {
    // invert: the wire's positive direction is up / left
    const dx = -this.x.take()
    const dy = -this.y.take()
    if (dx === 0 && dy === 0) return null
    return { delta_x: dx + 0, delta_y: dy + 0, control_key: this.ctrl }
  }

  reset(): void {
    this.x.reset()
    this.y.reset()
  }
}

export type Scheduler = (fn: () => void) => void

const defaultScheduler: Scheduler = (fn) => {
  setTimeout(fn, 10)
}

/**
 * Sends host input. Pointer moves and wheel deltas are coalesced (at most
 * one of each per scheduler tick); anything else flushes them first so the
 * server sees events in order.
 */
export class HostInput {
  private readonly send: ControlSender
  private readonly schedule: Scheduler
  private readonly keys: KeyTracker
  private readonly wheel = new WheelAccumulator()
  private readonly buttons = new Set<number>()
  private pendingMove: Point | null = null
  private lastPos: Point | null = null
  private flushScheduled = false

  constructor(send: ControlSender, options: { schedule?: Scheduler; deadKeys?: boolean } = {}) {
    this.send = send
    this.schedule = options.schedule ?? defaultScheduler
    this.keys = new KeyTracker({ deadKeys: options.deadKeys })
  }

  get position(): Point | null {
    return this.lastPos
  }

  get heldKeys(): number {
    return this.keys.size
  }

  move(p: Point): void {
    if (this.lastPos && this.lastPos.x === p.x && this.lastPos.y === p.y && !this.pendingMove) {
      return
    }
    this.pendingMove = { x: p.x, y: p.y }
    this.lastPos = this.pendingMove
    this.scheduleFlush()
  }

  scroll(ev: WheelLike): void {
    this.wheel.add(ev)
    this.scheduleFlush()
  }

  /** Returns false when the button is not mapped. */
  buttonDown(button: number, p: Point): boolean {
    const code = buttonCode(button)
    if (code === null) return false
    this.flush()
    this.lastPos = { x: p.x, y: p.y }
    this.buttons.add(code)
    this.send(CONTROL_BUTTONDOWN, { code, x: p.x, y: p.y })
    return true
  }

  buttonUp(button: number, p: Point): boolean {
    const code = buttonCode(button)
    if (code === null) return false
    this.flush()
    this.lastPos = { x: p.x, y: p.y }
    if (!this.buttons.delete(code)) return true // never sent down
    this.send(CONTROL_BUTTONUP, { code, x: p.x, y: p.y })
    return true
  }

  /** Returns true when the key was handled (caller should preventDefault). */
  keyDown(ev: KeyLike): boolean {
    const keysym = this.keys.down(ev)
    if (keysym === null) return false
    this.flush()
    this.send(CONTROL_KEYDOWN, { keysym })
    return true
  }

  keyUp(ev: KeyLike): boolean {
    const keysym = this.keys.up(ev)
    if (keysym === null) return false
    this.flush()
    this.send(CONTROL_KEYUP, { keysym })
    return true
  }

  /** Release every held key and mouse button (focus lost, control lost). */
  releaseAll(): void {
    this.flush()
    for (const keysym of this.keys.releaseAll()) {
      this.send(CONTROL_KEYUP, { keysym })
    }
    const pos = this.lastPos ?? { x: 0, y: 0 }
    for (const code of this.buttons) {
      this.send(CONTROL_BUTTONUP, { code, x: pos.x, y: pos.y })
    }
    this.buttons.clear()
  }

  /** Forget held keys/buttons without sending anything (not host anymore). */
  reset(): void {
    this.keys.releaseAll()
    this.buttons.clear()
    this.wheel.reset()
    this.pendingMove = null
  }

  /** Send coalesced move / scroll now. */
  flush(): void {
    if (this.pendingMove) {
      const p = this.pendingMove
      this.pendingMove = null
      this.send(CONTROL_MOVE, { x: p.x, y: p.y })
    }
    const scroll = this.wheel.take()
    if (scroll) this.send(CONTROL_SCROLL, scroll)
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return
    this.flushScheduled = true
    this.schedule(() => {
      this.flushScheduled = false
      this.flush()
    })
  }
}
