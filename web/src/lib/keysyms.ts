// KeyboardEvent → X11 keysym mapping (values from X11 keysymdef.h).

/** The fields of a KeyboardEvent that the mapping looks at. */
export interface KeyLike {
  key: string
  code: string
  /** KeyboardEvent.location: 0 standard, 1 left, 2 right, 3 numpad. */
  location?: number
}

export const XK = {
  BackSpace: 0xff08,
  Tab: 0xff09,
  Clear: 0xff0b,
  Return: 0xff0d,
  Pause: 0xff13,
  Scroll_Lock: 0xff14,
  Escape: 0xff1b,
  Multi_key: 0xff20,
  Kanji: 0xff21,
  Muhenkan: 0xff22,
  Henkan: 0xff23,
  Romaji: 0xff24,
  Hiragana: 0xff25,
  Katakana: 0xff26,
  Hiragana_Katakana: 0xff27,
  Zenkaku: 0xff28,
  Hankaku: 0xff29,
  Zenkaku_Hankaku: 0xff2a,
  Kana_Lock: 0xff2d,
  Eisu_toggle: 0xff30,
  Hangul: 0xff31,
  Hangul_Hanja: 0xff34,
  Home: 0xff50,
  Left: 0xff51,
  Up: 0xff52,
  Right: 0xff53,
  Down: 0xff54,
  Page_Up: 0xff55,
  Page_Down: 0xff56,
  End: 0xff57,
  Select: 0xff60,
  Print: 0xff61,
  Execute: 0xff62,
  Insert: 0xff63,
  Undo: 0xff65,
  Redo: 0xff66,
  Menu: 0xff67,
  Find: 0xff68,
  Cancel: 0xff69,
  Help: 0xff6a,
  Mode_switch: 0xff7e,
  Num_Lock: 0xff7f,
  KP_Enter: 0xff8d,
  KP_Home: 0xff95,
  KP_Left: 0xff96,
  KP_Up: 0xff97,
  KP_Right: 0xff98,
  KP_Down: 0xff99,
  KP_Page_Up: 0xff9a,
  KP_Page_Down: 0xff9b,
  KP_End: 0xff9c,
  KP_Begin: 0xff9d,
  KP_Insert: 0xff9e,
  KP_Delete: 0xff9f,
  KP_Equal: 0xffbd,
  KP_Multiply: 0xffaa,
  KP_Add: 0xffab,
  KP_Separator: 0xffac,
  KP_Subtract: 0xffad,
  KP_Decimal: 0xffae,
  KP_Divide: 0xffaf,
  KP_0: 0xffb0,
  F1: 0xffbe,
  Shift_L: 0xffe1,
  Shift_R: 0xffe2,
  Control_L: 0xffe3,
  Control_R: 0xffe4,
  Caps_Lock: 0xffe5,
  Meta_L: 0xffe7,
  Meta_R: 0xffe8,
  Alt_L: 0xffe9,
  Alt_R: 0xffea,
  Super_L: 0xffeb,
  Super_R: 0xffec,
  Hyper_L: 0xffed,
  Delete: 0xffff,
  ISO_Level3_Shift: 0xfe03,
  dead_grave: 0xfe50,
  dead_acute: 0xfe51,
  dead_circumflex: 0xfe52,
  dead_tilde: 0xfe53,
  dead_macron: 0xfe54,
  dead_breve: 0xfe55,
  dead_abovedot: 0xfe56,
  dead_diaeresis: 0xfe57,
  dead_abovering: 0xfe58,
  dead_doubleacute: 0xfe59,
  dead_caron: 0xfe5a,
  dead_cedilla: 0xfe5b,
  dead_ogonek: 0xfe5c,
  space: 0x20,
  // XF86 multimedia keys
  XF86AudioLowerVolume: 0x1008ff11,
  XF86AudioMute: 0x1008ff12,
  XF86AudioRaiseVolume: 0x1008ff13,
  XF86AudioPlay: 0x1008ff14,
  XF86AudioStop: 0x1008ff15,
  XF86AudioPrev: 0x1008ff16,
  XF86AudioNext: 0x1008ff17,
  XF86HomePage: 0x1008ff18,
  XF86Mail: 0x1008ff19,
  XF86Search: 0x1008ff1b,
  XF86Back: 0x1008ff26,
  XF86Forward: 0x1008ff27,
  XF86Stop: 0x1008ff28,
  XF86Refresh: 0x1008ff29,
  XF86Favorites: 0x1008ff30,
  XF86Calculator: 0x1008ff1d,
} as const

/** Physical keys whose keysym does not depend on the layout. */
const BY_CODE: Record<string, number> = {
  ShiftLeft: XK.Shift_L,
  ShiftRight: XK.Shift_R,
  ControlLeft: XK.Control_L,
  ControlRight: XK.Control_R,
  AltLeft: XK.Alt_L,
  // Right Alt is AltGr on most non-US layouts; ISO_Level3_Shift is what an
  // X server with such a layout expects, and is harmless on US layouts.
  AltRight: XK.ISO_Level3_Shift,
  MetaLeft: XK.Super_L,
  MetaRight: XK.Super_R,
  OSLeft: XK.Super_L,
  OSRight: XK.Super_R,
  CapsLock: XK.Caps_Lock,
  NumLock: XK.Num_Lock,
  ScrollLock: XK.Scroll_Lock,
  ContextMenu: XK.Menu,
  NumpadEnter: XK.KP_Enter,
  NumpadAdd: XK.KP_Add,
  NumpadSubtract: XK.KP_Subtract,
  NumpadMultiply: XK.KP_Multiply,
  NumpadDivide: XK.KP_Divide,
  NumpadEqual: XK.KP_Equal,
  NumpadComma: XK.KP_Separator,
}

/** Numpad keys when NumLock is off (event.key is then a navigation key). */
const NUMPAD_NAV: Record<string, number> = {
  Home: XK.KP_Home,
  ArrowLeft: XK.KP_Left,
  ArrowUp: XK.KP_Up,
  ArrowRight: XK.KP_Right,
  ArrowDown: XK.KP_Down,
  PageUp: XK.KP_Page_Up,
  PageDown: XK.KP_Page_Down,
  End: XK.KP_End,
  Clear: XK.KP_Begin,
  Insert: XK.KP_Insert,
  Delete: XK.KP_Delete,
  Enter: XK.KP_Enter,
}

/** Named key values (KeyboardEvent.key) → keysym. */
const BY_KEY: Record<string, number> = {
  Backspace: XK.BackSpace,
  Tab: XK.Tab,
  Clear: XK.Clear,
  Enter: XK.Return,
  Pause: XK.Pause,
  ScrollLock: XK.Scroll_Lock,
  Escape: XK.Escape,
  Esc: XK.Escape,
  Delete: XK.Delete,
  Del: XK.Delete,
  Home: XK.Home,
  End: XK.End,
  PageUp: XK.Page_Up,
  PageDown: XK.Page_Down,
  ArrowLeft: XK.Left,
  ArrowUp: XK.Up,
  ArrowRight: XK.Right,
  ArrowDown: XK.Down,
  Left: XK.Left,
  Up: XK.Up,
  Right: XK.Right,
  Down: XK.Down,
  Insert: XK.Insert,
  Select: XK.Select,
  PrintScreen: XK.Print,
  Execute: XK.Execute,
  Undo: XK.Undo,
  Redo: XK.Redo,
  ContextMenu: XK.Menu,
  Apps: XK.Menu,
  Find: XK.Find,
  Cancel: XK.Cancel,
  Help: XK.Help,
  CapsLock: XK.Caps_Lock,
  NumLock: XK.Num_Lock,
  AltGraph: XK.ISO_Level3_Shift,
  ModeChange: XK.Mode_switch,
  Compose: XK.Multi_key,
  Hyper: XK.Hyper_L,
  Spacebar: XK.space,
  // input method keys
  Convert: XK.Henkan,
  NonConvert: XK.Muhenkan,
  KanjiMode: XK.Kanji,
  Romaji: XK.Romaji,
  Hiragana: XK.Hiragana,
  Katakana: XK.Katakana,
  HiraganaKatakana: XK.Hiragana_Katakana,
  Zenkaku: XK.Zenkaku,
  Hankaku: XK.Hankaku,
  ZenkakuHankaku: XK.Zenkaku_Hankaku,
  KanaMode: XK.Kana_Lock,
  Eisu: XK.Eisu_toggle,
  HangulMode: XK.Hangul,
  HanjaMode: XK.Hangul_Hanja,
  // multimedia / browser keys
  AudioVolumeDown: XK.XF86AudioLowerVolume,
  AudioVolumeMute: XK.XF86AudioMute,
  AudioVolumeUp: XK.XF86AudioRaiseVolume,
  MediaPlayPause: XK.XF86AudioPlay,
  MediaStop: XK.XF86AudioStop,
  MediaTrackPrevious: XK.XF86AudioPrev,
  MediaTrackNext: XK.XF86AudioNext,
  BrowserHome: XK.XF86HomePage,
  BrowserSearch: XK.XF86Search,
  BrowserBack: XK.XF86Back,
  BrowserForward: XK.XF86Forward,
  BrowserStop: XK.XF86Stop,
  BrowserRefresh: XK.XF86Refresh,
  BrowserFavorites: XK.XF86Favorites,
  LaunchMail: XK.XF86Mail,
  LaunchCalculator: XK.XF86Calculator,
}

/** Modifier names in event.key, resolved with event.location. */
const MODIFIERS: Record<string, [left: number, right: number]> = {
  Shift: [XK.Shift_L, XK.Shift_R],
  Control: [XK.Control_L, XK.Control_R],
  Alt: [XK.Alt_L, XK.ISO_Level3_Shift],
  Meta: [XK.Super_L, XK.Super_R],
  OS: [XK.Super_L, XK.Super_R],
  Super: [XK.Super_L, XK.Super_R],
}

/** Keysym of one Unicode character, or null for control characters. */
export function keysymFromChar(char: string): number | null {
  const cp = char.codePointAt(0)
  if (cp === undefined || String.fromCodePoint(cp) !== char) return null
  if ((cp >= 0x20 && cp <= 0x7e) || (cp >= 0xa0 && cp <= 0xff)) return cp // Latin-1
  if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) return null // C0 / C1 controls
  return 0x01000000 + cp
}

/**
 * Layout-independent fallback from the physical key, used when `key` gives
 * nothing usable ("Unidentified", "Process", …). Assumes a US layout.
 */
function keysymFromCodeFallback(code: string): number | null {
  let m = /^Key([A-Z])$/.exec(code)
  if (m) return m[1].toLowerCase().charCodeAt(0)
  m = /^Digit([0-9])$/.exec(code)
  if (m) return m[1].charCodeAt(0)
  m = /^F([0-9]{1,2})$/.exec(code)
  if (m) {
    const n = Number(m[1])
    if (n >= 1 && n <= 24) return XK.F1 + n - 1
  }
  const punct: Record<string, string> = {
    Space: ' ',
    Minus: '-',
    Equal: '=',
    BracketLeft: '[',
    BracketRight: ']',
    Backslash: '\\',
    Semicolon: ';',
    Quote: "'",
    Backquote: '`',
    Comma: ',',
    Period: '.',
    Slash: '/',
    IntlBackslash: '<',
  }
  if (code in punct) return punct[code].charCodeAt(0)
  const named: Record<string, string> = {
    Enter: 'Enter',
    Backspace: 'Backspace',
    Tab: 'Tab',
    Escape: 'Escape',
    Delete: 'Delete',
    Home: 'Home',
    End: 'End',
    PageUp: 'PageUp',
    PageDown: 'PageDown',
    ArrowLeft: 'ArrowLeft',
    ArrowUp: 'ArrowUp',
    ArrowRight: 'ArrowRight',
    ArrowDown: 'ArrowDown',
    Insert: 'Insert',
    PrintScreen: 'PrintScreen',
    Pause: 'Pause',
  }
  if (code in named) return BY_KEY[named[code]]
  return null
}

/**
 * X11 keysym for a keyboard event, or null when the key should not be sent.
 *
 * Order: numpad (by `code`, honouring NumLock through `key`), layout
 * independent physical keys (modifiers, locks), named `key` values, F-keys,
 * printable characters (by `key`, so the local layout decides the character),
 * then a US-layout fallback by `code`.
 *
 * Dead keys: the character a dead key produces is layout specific and the
 * remote keymap usually has no dead keysyms bound, so by default a dead key
 * is not sent (`null`); browsers report the composed character (é, ñ, …) on
 * the key that completes the sequence, and that character is sent instead.
 * With `{ deadKeys: true }` the dead keysym is derived from `code` (best
 * effort, US-International positions).
 */
export function keysymFromEvent(ev: KeyLike, options: { deadKeys?: boolean } = {}): number | null {
  const { key, code } = ev

  if (code.startsWith('Numpad')) {
    const digit = /^Numpad([0-9])$/.exec(code)
    if (digit) {
      if (/^[0-9]$/.test(key)) return XK.KP_0 + Number(key)
      if (key in NUMPAD_NAV) return NUMPAD_NAV[key]
      return XK.KP_0 + Number(digit[1])
    }
    if (code === 'NumpadDecimal') {
      if (key === 'Delete' || key === 'Del') return XK.KP_Delete
      return XK.KP_Decimal
    }
    if (code in BY_CODE) return BY_CODE[code]
  }

  if (code in BY_CODE) return BY_CODE[code]

  if (key in MODIFIERS) {
    const [left, right] = MODIFIERS[key]
    return ev.location === 2 ? right : left
  }

  if (key === 'Dead') {
    if (!options.deadKeys) return null
    const deadByCode: Record<string, number> = {
      Backquote: XK.dead_grave,
      Quote: XK.dead_acute,
      Equal: XK.dead_acute,
      BracketLeft: XK.dead_circumflex,
      Digit6: XK.dead_circumflex,
      Backslash: XK.dead_circumflex,
      BracketRight: XK.dead_diaeresis,
    }
    return deadByCode[code] ?? null
  }

  if (key in BY_KEY) return BY_KEY[key]

  const fn = /^F([0-9]{1,2})$/.exec(key)
  if (fn) {
    const n = Number(fn[1])
    if (n >= 1 && n <= 24) return XK.F1 + n - 1
  }

  const char = keysymFromChar(key)
  if (char !== null) return char

  return keysymFromCodeFallback(code)
}

/**
 * Remembers which keysym every physical key went down with, so that the key
 * is released with the same keysym even when modifiers changed `event.key`
 * in between (press Shift, press 2 → "@", release Shift, release 2 → "2").
 */
export class KeyTracker {
  private readonly held = new Map<string, number>()
  private readonly options: { deadKeys?: boolean }

  constructor(options: { deadKeys?: boolean } = {}) {
    this.options = options
  }

  private static id(ev: KeyLike): string {
    return ev.code || `key:${ev.key}`
  }

  /** Keysym to send as keydown, or null when the key is not handled. */
  down(ev: KeyLike): number | null {
    const id = KeyTracker.id(ev)
    const previous = this.held.get(id)
    if (previous !== undefined) return previous // auto-repeat
    const keysym = keysymFromEvent(ev, this.options)
    if (keysym === null) return null
    this.held.set(id, keysym)
    return keysym
  }

  /** Keysym to send as keyup, or null when the key was never sent down. */
  up(ev: KeyLike): number | null {
    const id = KeyTracker.id(ev)
    const keysym = this.held.get(id)
    if (keysym === undefined) return null
    this.held.delete(id)
    return keysym
  }

  isHeld(ev: KeyLike): boolean {
    return this.held.has(KeyTracker.id(ev))
  }

  get size(): number {
    return this.held.size
  }

  /** Forget all keys and return their keysyms (to send keyup for each). */
  releaseAll(): number[] {
    const keysyms = [...this.held.values()]
    this.held.clear()
    return keysyms
  }
}
