// Wire protocol of the neko v3 compatible server.
//
// Every WebSocket message is a JSON envelope `{ event, payload }`. This module
// holds the event names, one payload type per event and two event maps
// (server → client and client → server) that the rest of the library is typed
// against. Field names are the exact wire names.

/* ------------------------------------------------------------------ */
/* Shared data types                                                   */
/* ------------------------------------------------------------------ */

export interface MemberProfile {
  name: string
  is_admin: boolean
  can_login: boolean
  can_connect: boolean
  can_watch: boolean
  can_host: boolean
  can_share_media: boolean
  can_access_clipboard: boolean
  sends_inactive_cursor: boolean
  can_see_inactive_cursors: boolean
  plugins?: Record<string, unknown> | null
}

export interface SessionState {
  is_connected: boolean
  is_watching: boolean
  connected_since?: string
  not_connected_since?: string
  watching_since?: string
  not_watching_since?: string
}

/** Returned by `POST api/login` and `GET api/whoami`. */
export interface SessionData {
  id: string
  profile: MemberProfile
  state: SessionState
  /** Only present when the server has cookies disabled. */
  token?: string
}

export interface SessionInfo {
  id: string
  profile: MemberProfile
  state: SessionState
}

export interface ScreenSize {
  width: number
  height: number
  rate: number
}

export interface ControlHost {
  /** Session that caused the change (may be absent). */
  id?: string
  has_host: boolean
  /** Absent or empty when nobody hosts. */
  host_id?: string
}

export interface Settings {
  private_mode: boolean
  locked_logins: boolean
  locked_controls: boolean
  control_protection: boolean
  implicit_hosting: boolean
  inactive_cursors: boolean
  merciful_reconnect: boolean
  /** Seconds between `client/heartbeat` messages; 0 disables them. */
  heartbeat_interval: number
  plugins?: Record<string, unknown> | null
}

export interface IceServer {
  urls: string[]
  username?: string
  credential?: string
}

export interface IceCandidate {
  candidate: string
  sdpMid?: string | null
  sdpMLineIndex?: number | null
  usernameFragment?: string | null
}

export interface VideoSelector {
  disabled: boolean
  selector: unknown
  auto: boolean
}

/** `signal/video` as a client sends it: choose a quality, or `auto`. */
export interface SignalVideoRequestPayload {
  disabled?: boolean
  selector?: { id: string; type: 'exact' | 'nearest' | 'lower' | 'higher' } | null
  auto?: boolean
}

export interface SignalVideo {
  disabled: boolean
  id?: string
  video?: string
  auto?: boolean
}

export interface SignalAudio {
  disabled: boolean
}

/* ------------------------------------------------------------------ */
/* Server → client payloads                                            */
/* ------------------------------------------------------------------ */

export interface SystemInitPayload {
  session_id: string
  control_host: ControlHost
  screen_size: ScreenSize
  sessions: Record<string, SessionInfo>
  settings: Settings
  touch_events?: boolean
  screencast_enabled?: boolean
  webrtc?: { videos: string[] }
}

export interface SystemDisconnectPayload {
  message: string
}

/** New room settings; `id` is the session that changed them. */
export type SystemSettingsPayload = Settings & { id?: string }

/** Where other sessions point (inactive cursors), newest last. */
export type SessionCursorsPayload = { id: string; cursors: { x: number; y: number }[] }[]

export type SessionCreatedPayload = SessionInfo

export interface SessionDeletedPayload {
  id: string
}

export interface SessionStatePayload extends SessionState {
  id: string
}

export interface SessionProfilePayload extends MemberProfile {
  id: string
}

export interface SignalProvidePayload {
  sdp: string
  iceservers: IceServer[]
  video: SignalVideo
  audio: SignalAudio
}

export interface SignalSdpPayload {
  sdp: string
}

export type SignalCandidatePayload = IceCandidate

export type SignalVideoPayload = SignalVideo
export type SignalAudioPayload = SignalAudio

export type ControlHostPayload = ControlHost

/** Sent to the current host when another session asks for control. */
export interface ControlRequestPayload {
  id: string
}

export interface ScreenUpdatedPayload extends ScreenSize {
  id?: string
}

/* ------------------------------------------------------------------ */
/* Client → server payloads                                            */
/* ------------------------------------------------------------------ */

export interface SignalRequestPayload {
  video: VideoSelector
  audio: { disabled: boolean }
}

export interface ControlPosPayload {
  x: number
  y: number
}

export interface ControlScrollPayload {
  delta_x: number
  delta_y: number
  control_key: boolean
}

export interface ControlButtonPayload {
  /** 1 left, 2 middle, 3 right, 8 back, 9 forward. */
  code: number
  x: number
  y: number
}

export interface ControlKeyPayload {
  /** X11 keysym. */
  keysym: number
}

/* ------------------------------------------------------------------ */
/* Event names                                                         */
/* ------------------------------------------------------------------ */

export const SYSTEM_INIT = 'system/init'
export const SYSTEM_DISCONNECT = 'system/disconnect'
export const SYSTEM_HEARTBEAT = 'system/heartbeat'
export const CLIENT_HEARTBEAT = 'client/heartbeat'

export const SESSION_CREATED = 'session/created'
export const SESSION_DELETED = 'session/deleted'
export const SESSION_STATE = 'session/state'
export const SESSION_PROFILE = 'session/profile'
export const SESSION_CURSORS = 'session/cursors'
export const SYSTEM_SETTINGS = 'system/settings'

export const SIGNAL_REQUEST = 'signal/request'
export const SIGNAL_PROVIDE = 'signal/provide'
export const SIGNAL_RESTART = 'signal/restart'
/** Renegotiation offer (neko v3); answered exactly like `signal/restart`. */
export const SIGNAL_OFFER = 'signal/offer'
export const SIGNAL_ANSWER = 'signal/answer'
export const SIGNAL_CANDIDATE = 'signal/candidate'
export const SIGNAL_VIDEO = 'signal/video'
export const SIGNAL_AUDIO = 'signal/audio'
export const SIGNAL_CLOSE = 'signal/close'

export const CONTROL_HOST = 'control/host'
export const CONTROL_REQUEST = 'control/request'
export const CONTROL_RELEASE = 'control/release'
export const CONTROL_MOVE = 'control/move'
export const CONTROL_SCROLL = 'control/scroll'
export const CONTROL_BUTTONDOWN = 'control/buttondown'
export const CONTROL_BUTTONUP = 'control/buttonup'
export const CONTROL_KEYDOWN = 'control/keydown'
export const CONTROL_KEYUP = 'control/keyup'

export const SCREEN_UPDATED = 'screen/updated'

/* ------------------------------------------------------------------ */
/* Event maps                                                          */
/* ------------------------------------------------------------------ */

/** Events the server sends. `null` = the event has no payload. */
export interface ServerEventMap {
  [SYSTEM_INIT]: SystemInitPayload
  [SYSTEM_DISCONNECT]: SystemDisconnectPayload
  [SYSTEM_HEARTBEAT]: null
  [SESSION_CREATED]: SessionCreatedPayload
  [SESSION_DELETED]: SessionDeletedPayload
  [SESSION_STATE]: SessionStatePayload
  [SESSION_PROFILE]: SessionProfilePayload
  [SESSION_CURSORS]: SessionCursorsPayload
  [SYSTEM_SETTINGS]: SystemSettingsPayload
  [SIGNAL_PROVIDE]: SignalProvidePayload
  [SIGNAL_RESTART]: SignalSdpPayload
  [SIGNAL_OFFER]: SignalSdpPayload
  [SIGNAL_CANDIDATE]: SignalCandidatePayload
  [SIGNAL_VIDEO]: SignalVideoPayload
  [SIGNAL_AUDIO]: SignalAudioPayload
  [SIGNAL_CLOSE]: null
  [CONTROL_HOST]: ControlHostPayload
  [CONTROL_REQUEST]: ControlRequestPayload
  [SCREEN_UPDATED]: ScreenUpdatedPayload
}

/** Events the client sends. `null` = sent without payload. */
export interface ClientEventMap {
  [CLIENT_HEARTBEAT]: null
  [SIGNAL_REQUEST]: SignalRequestPayload
  [SIGNAL_ANSWER]: SignalSdpPayload
  [SIGNAL_CANDIDATE]: SignalCandidatePayload
  [SIGNAL_VIDEO]: SignalVideoRequestPayload
  [CONTROL_REQUEST]: null
  [CONTROL_RELEASE]: null
  [CONTROL_MOVE]: ControlPosPayload
  [CONTROL_SCROLL]: ControlScrollPayload
  [CONTROL_BUTTONDOWN]: ControlButtonPayload
  [CONTROL_BUTTONUP]: ControlButtonPayload
  [CONTROL_KEYDOWN]: ControlKeyPayload
  [CONTROL_KEYUP]: ControlKeyPayload
}

export type ServerEvent = keyof ServerEventMap
export type ClientEvent = keyof ClientEventMap

/** A decoded server message; discriminated on `event`. */
export type ServerMessage = {
  [K in ServerEvent]: { event: K; payload: ServerEventMap[K] }
}[ServerEvent]

/**
 * Payload-kind table: `object` events must carry a JSON object, `array`
 * ones a JSON array, `none` events carry nothing (`null`/absent). Doubles
 * as the list of known events.
 */
const SERVER_EVENT_KINDS: { [K in ServerEvent]: 'object' | 'array' | 'none' } = {
  [SYSTEM_INIT]: 'object',
  [SYSTEM_DISCONNECT]: 'object',
  [SYSTEM_HEARTBEAT]: 'none',
  [SESSION_CREATED]: 'object',
  [SESSION_DELETED]: 'object',
  [SESSION_STATE]: 'object',
  [SESSION_PROFILE]: 'object',
  [SESSION_CURSORS]: 'array',
  [SYSTEM_SETTINGS]: 'object',
  [SIGNAL_PROVIDE]: 'object',
  [SIGNAL_RESTART]: 'object',
  [SIGNAL_OFFER]: 'object',
  [SIGNAL_CANDIDATE]: 'object',
  [SIGNAL_VIDEO]: 'object',
  [SIGNAL_AUDIO]: 'object',
  [SIGNAL_CLOSE]: 'none',
  [CONTROL_HOST]: 'object',
  [CONTROL_REQUEST]: 'object',
  [SCREEN_UPDATED]: 'object',
}

export function isServerEvent(name: string): name is ServerEvent {
  return Object.prototype.hasOwnProperty.call(SERVER_EVENT_KINDS, name)
}

export type DecodeResult =
  | { ok: true; message: ServerMessage }
  | { ok: false; reason: 'invalid' | 'unknown'; event?: string }

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Decode one WebSocket text frame. Unknown events and malformed frames are
 * reported (never thrown) so the caller can log and ignore them.
 */
export function decodeServerMessage(data: string): DecodeResult {
  let parsed: unknown
  try {
    parsed = JSON.parse(data)
  } catch {
    return { ok: false, reason: 'invalid' }
  }
  if (!isObject(parsed) || typeof parsed.event !== 'string') {
    return { ok: false, reason: 'invalid' }
  }
  const event = parsed.event
  if (!isServerEvent(event)) {
    return { ok: false, reason: 'unknown', event }
  }
  const payload = parsed.payload
  if (SERVER_EVENT_KINDS[event] === 'object') {
    if (!isObject(payload)) return { ok: false, reason: 'invalid', event }
  }
  if (SERVER_EVENT_KINDS[event] === 'array') {
    if (!Array.isArray(payload)) return { ok: false, reason: 'invalid', event }
  }
  // The event name has been checked against the table above and the payload
  // has the right JSON kind; the field types are trusted from here on.
  const message = {
    event,
    payload: SERVER_EVENT_KINDS[event] === 'none' ? null : payload,
  } as ServerMessage
  return { ok: true, message }
}

export function encodeClientMessage<K extends ClientEvent>(
  event: K,
  payload: ClientEventMap[K],
): string {
  return payload === null ? JSON.stringify({ event }) : JSON.stringify({ event, payload })
}
