import { describe, expect, it } from 'vitest'
import { KeyTracker, XK, keysymFromChar, keysymFromEvent, type KeyLike } from './keysyms'

const k = (key: string, code = '', location = 0): KeyLike => ({ key, code, location })

describe('keysymFromEvent', () => {
  it.each([
    ['a', 'KeyA', 0x61],
    ['A', 'KeyA', 0x41],
    ['z', 'KeyZ', 0x7a],
    ['1', 'Digit1', 0x31],
    ['!', 'Digit1', 0x21],
    ['@', 'Digit2', 0x40],
    [' ', 'Space', 0x20],
    ['~', 'Backquote', 0x7e],
    ['/', 'Slash', 0x2f],
  ])('printable ASCII %j (%s) → %s', (key, code, keysym) => {
    expect(keysymFromEvent(k(key, code))).toBe(keysym)
  })

  it('maps Latin-1 characters to their code point', () => {
    expect(keysymFromEvent(k('é', 'Digit2'))).toBe(0xe9)
    expect(keysymFromEvent(k('ß', 'Minus'))).toBe(0xdf)
    expect(keysymFromEvent(k('ü', 'BracketLeft'))).toBe(0xfc)
    expect(keysymFromEvent(k('§', 'Backquote'))).toBe(0xa7)
    expect(keysymFromEvent(k('\u00a0', 'Space'))).toBe(0xa0)
  })

  it('maps other Unicode characters to 0x01000000 + code point', () => {
    expect(keysymFromEvent(k('€', 'KeyE'))).toBe(0x010020ac) // AltGr+E
    expect(keysymFromEvent(k('ř', 'Digit5'))).toBe(0x01000159) // Czech layout
    expect(keysymFromEvent(k('Ř', 'Digit5'))).toBe(0x01000158)
    expect(keysymFromEvent(k('ж', 'Semicolon'))).toBe(0x01000436)
    expect(keysymFromEvent(k('😀', ''))).toBe(0x0101f600) // astral plane
  })

  it.each([
    ['Enter', 'Enter', XK.Return, 0xff0d],
    ['Backspace', 'Backspace', XK.BackSpace, 0xff08],
    ['Tab', 'Tab', XK.Tab, 0xff09],
    ['Escape', 'Escape', XK.Escape, 0xff1b],
    ['Delete', 'Delete', XK.Delete, 0xffff],
    ['Home', 'Home', XK.Home, 0xff50],
    ['ArrowLeft', 'ArrowLeft', XK.Left, 0xff51],
    ['ArrowUp', 'ArrowUp', XK.Up, 0xff52],
    ['ArrowRight', 'ArrowRight', XK.Right, 0xff53],
    ['ArrowDown', 'ArrowDown', XK.Down, 0xff54],
    ['PageUp', 'PageUp', XK.Page_Up, 0xff55],
    ['PageDown', 'PageDown', XK.Page_Down, 0xff56],
    ['End', 'End', XK.End, 0xff57],
    ['Insert', 'Insert', XK.Insert, 0xff63],
    ['ContextMenu', 'ContextMenu', XK.Menu, 0xff67],
    ['CapsLock', 'CapsLock', XK.Caps_Lock, 0xffe5],
    ['NumLock', 'NumLock', XK.Num_Lock, 0xff7f],
    ['PrintScreen', 'PrintScreen', XK.Print, 0xff61],
    ['Pause', 'Pause', XK.Pause, 0xff13],
  ])('named key %s', (key, code, named, keysym) => {
    expect(named).toBe(keysym)
    expect(keysymFromEvent(k(key, code))).toBe(keysym)
  })

  it('maps F1..F24', () => {
    expect(keysymFromEvent(k('F1', 'F1'))).toBe(0xffbe)
    expect(keysymFromEvent(k('F5', 'F5'))).toBe(0xffc2)
    expect(keysymFromEvent(k('F12', 'F12'))).toBe(0xffc9)
    expect(keysymFromEvent(k('F24', 'F24'))).toBe(0xffd5)
    expect(keysymFromEvent(k('F25', 'F25'))).toBeNull()
  })

  it('maps modifiers by physical key', () => {
    expect(keysymFromEvent(k('Shift', 'ShiftLeft', 1))).toBe(0xffe1)
    expect(keysymFromEvent(k('Shift', 'ShiftRight', 2))).toBe(0xffe2)
    expect(keysymFromEvent(k('Control', 'ControlLeft', 1))).toBe(0xffe3)
    expect(keysymFromEvent(k('Control', 'ControlRight', 2))).toBe(0xffe4)
    expect(keysymFromEvent(k('Alt', 'AltLeft', 1))).toBe(0xffe9)
    expect(keysymFromEvent(k('Meta', 'MetaLeft', 1))).toBe(0xffeb)
    expect(keysymFromEvent(k('Meta', 'MetaRight', 2))).toBe(0xffec)
  })

  it('maps AltGr / right Alt to ISO_Level3_Shift', () => {
    expect(keysymFromEvent(k('AltGraph', 'AltRight', 2))).toBe(0xfe03)
    expect(keysymFromEvent(k('Alt', 'AltRight', 2))).toBe(0xfe03)
    expect(keysymFromEvent(k('AltGraph', ''))).toBe(0xfe03)
  })

  it('falls back to key + location when code is missing', () => {
    expect(keysymFromEvent(k('Shift', '', 2))).toBe(0xffe2)
    expect(keysymFromEvent(k('Control', '', 1))).toBe(0xffe3)
    expect(keysymFromEvent(k('Alt', '', 1))).toBe(0xffe9)
  })

  it('maps the numpad with NumLock on to KP_ digits and operators', () => {
    expect(keysymFromEvent(k('0', 'Numpad0', 3))).toBe(0xffb0)
    expect(keysymFromEvent(k('7', 'Numpad7', 3))).toBe(0xffb7)
    expect(keysymFromEvent(k('9', 'Numpad9', 3))).toBe(0xffb9)
    expect(keysymFromEvent(k('.', 'NumpadDecimal', 3))).toBe(0xffae)
    expect(keysymFromEvent(k(',', 'NumpadDecimal', 3))).toBe(0xffae)
    expect(keysymFromEvent(k('Enter', 'NumpadEnter', 3))).toBe(0xff8d)
    expect(keysymFromEvent(k('+', 'NumpadAdd', 3))).toBe(0xffab)
    expect(keysymFromEvent(k('-', 'NumpadSubtract', 3))).toBe(0xffad)
    expect(keysymFromEvent(k('*', 'NumpadMultiply', 3))).toBe(0xffaa)
    expect(keysymFromEvent(k('/', 'NumpadDivide', 3))).toBe(0xffaf)
  })

  it('maps the numpad with NumLock off to KP_ navigation keysyms', () => {
    expect(keysymFromEvent(k('End', 'Numpad1', 3))).toBe(0xff9c)
    expect(keysymFromEvent(k('ArrowDown', 'Numpad2', 3))).toBe(0xff99)
    expect(keysymFromEvent(k('Clear', 'Numpad5', 3))).toBe(0xff9d)
    expect(keysymFromEvent(k('Home', 'Numpad7', 3))).toBe(0xff95)
    expect(keysymFromEvent(k('PageUp', 'Numpad9', 3))).toBe(0xff9a)
    expect(keysymFromEvent(k('Insert', 'Numpad0', 3))).toBe(0xff9e)
    expect(keysymFromEvent(k('Delete', 'NumpadDecimal', 3))).toBe(0xff9f)
  })

  it('does not send dead keys by default but maps composed characters', () => {
    expect(keysymFromEvent(k('Dead', 'Equal'))).toBeNull()
    expect(keysymFromEvent(k('á', 'KeyA'))).toBe(0xe1)
    expect(keysymFromEvent(k('ě', 'KeyE'))).toBe(0x0100011b)
  })

  it('maps dead keys best-effort when asked to', () => {
    expect(keysymFromEvent(k('Dead', 'Quote'), { deadKeys: true })).toBe(XK.dead_acute)
    expect(keysymFromEvent(k('Dead', 'Backquote'), { deadKeys: true })).toBe(XK.dead_grave)
    expect(keysymFromEvent(k('Dead', 'BracketLeft'), { deadKeys: true })).toBe(XK.dead_circumflex)
  })

  it('falls back to the physical key for Unidentified keys', () => {
    expect(keysymFromEvent(k('Unidentified', 'KeyQ'))).toBe(0x71)
    expect(keysymFromEvent(k('Unidentified', 'Digit4'))).toBe(0x34)
    expect(keysymFromEvent(k('Process', 'Space'))).toBe(0x20)
    expect(keysymFromEvent(k('Unidentified', 'ArrowUp'))).toBe(0xff52)
    expect(keysymFromEvent(k('Unidentified', ''))).toBeNull()
  })

  it('maps media keys to XF86 keysyms', () => {
    expect(keysymFromEvent(k('AudioVolumeUp', 'AudioVolumeUp'))).toBe(0x1008ff13)
    expect(keysymFromEvent(k('MediaPlayPause', 'MediaPlayPause'))).toBe(0x1008ff14)
  })
})

describe('keysymFromChar', () => {
  it('rejects control characters and multi-character strings', () => {
    expect(keysymFromChar('\n')).toBeNull()
    expect(keysymFromChar('\u007f')).toBeNull()
    expect(keysymFromChar('\u0085')).toBeNull()
    expect(keysymFromChar('ab')).toBeNull()
    expect(keysymFromChar('')).toBeNull()
    expect(keysymFromChar('Enter')).toBeNull()
  })
})

describe('KeyTracker', () => {
  it('releases a key with the keysym it was pressed with', () => {
    const t = new KeyTracker()
    expect(t.down(k('Shift', 'ShiftLeft', 1))).toBe(0xffe1)
    expect(t.down(k('@', 'Digit2'))).toBe(0x40)
    expect(t.up(k('Shift', 'ShiftLeft', 1))).toBe(0xffe1)
    // Shift is up now, so the browser reports "2" on release
    expect(t.up(k('2', 'Digit2'))).toBe(0x40)
    expect(t.size).toBe(0)
  })

  it('keeps the AltGr character on release', () => {
    const t = new KeyTracker()
    expect(t.down(k('AltGraph', 'AltRight', 2))).toBe(0xfe03)
    expect(t.down(k('€', 'KeyE'))).toBe(0x010020ac)
    expect(t.up(k('AltGraph', 'AltRight', 2))).toBe(0xfe03)
    expect(t.up(k('e', 'KeyE'))).toBe(0x010020ac)
  })

  it('repeats the original keysym on auto-repeat', () => {
    const t = new KeyTracker()
    expect(t.down(k('a', 'KeyA'))).toBe(0x61)
    expect(t.down(k('A', 'KeyA'))).toBe(0x61)
    expect(t.size).toBe(1)
  })

  it('ignores keyup for keys that were never pressed', () => {
    const t = new KeyTracker()
    expect(t.up(k('a', 'KeyA'))).toBeNull()
  })

  it('releaseAll returns every held keysym once', () => {
    const t = new KeyTracker()
    t.down(k('Control', 'ControlLeft', 1))
    t.down(k('c', 'KeyC'))
    expect(t.releaseAll().sort()).toEqual([0x63, 0xffe3].sort())
    expect(t.releaseAll()).toEqual([])
  })

  it('tracks keys without a code by their key value', () => {
    const t = new KeyTracker()
    expect(t.down(k('x', ''))).toBe(0x78)
    expect(t.up(k('x', ''))).toBe(0x78)
  })
})
