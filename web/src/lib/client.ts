// NekoClient: ties the REST API, the WebSocket connection, WebRTC signalling
// and host input together and keeps the room state. UIs subscribe to its
// typed `events`.

import { ApiClient, basePath, webSocketUrl, type FetchLike, type StorageLike } from './api'
import { Connection, type ConnectionStatus, type WebSocketFactory } from './connection'
import type { Point } from './coords'
import { decodeDataMessage, encodePing, type CursorImageMessage } from './datachannel'
import { Emitter } from './emitter'
import { HostInput, type ControlSender, type Scheduler } from './input'
import { consoleLogger, type Logger } from './log'
import {
  CONTROL_HOST,
  CONTROL_MOVE,
  CONTROL_RELEASE,
  CONTROL_REQUEST,
  SCREEN_UPDATED,
  SESSION_CREATED,
  SESSION_CURSORS,
  SESSION_DELETED,
  SESSION_PROFILE,
  SESSION_STATE,
  SIGNAL_AUDIO,
  SIGNAL_CANDIDATE,
  SIGNAL_CLOSE,
  SIGNAL_OFFER,
  SIGNAL_PROVIDE,
  SIGNAL_RESTART,
  SIGNAL_VIDEO,
  SYSTEM_DISCONNECT,
  SYSTEM_SETTINGS,
  SYSTEM_INIT,
  type ClientEventMap,
  type ControlHost,
  type MemberProfile,
  type ScreenSize,
  type SessionInfo,
  type Settings,
  type SignalVideo,
  type SystemInitPayload,
} from './protocol'
import {
  Signaling,
  type MediaStreamLike,
  type PeerConnectionFactory,
  type PeerState,
} from './signaling'

export interface ControlRequestNotice {
  id: string
  name: string
}

/** The remote cursor image (from the data channel). */
export interface CursorImage {
  width: number
  height: number
  xHot: number
  yHot: number
  /** Object URL of the PNG; revoked when the next image arrives. */
  url: string
}

/** Object URL functions (replaceable in tests). */
export interface ObjectUrls {
  create(blob: Blob): string
  revoke(url: string): void
}

export interface DisconnectInfo {
  message: string
  /** True when the session is gone and the user has to log in again. */
  auth: boolean
}

export interface NekoClientEvents {
  status: ConnectionStatus
  init: SystemInitPayload
  sessions: ReadonlyMap<string, SessionInfo>
  /** The host changed (`hostId` null = nobody). */
  host: { hostId: string | null; isHost: boolean }
  screen: ScreenSize
  stream: MediaStreamLike
  peer: PeerState
  controlRequest: ControlRequestNotice
  /** Terminal disconnect: no reconnect will be attempted. */
  disconnected: DisconnectInfo
  /** The server's data channel opened (`true`) or closed (`false`). */
  dataChannel: boolean
  /** The remote cursor image changed. */
  cursorImage: CursorImage
  /**
   * Where the remote pointer is (remote screen pixels): the host's pointer
   * from the data channel, or our own moves while we are the host.
   */
  cursorPosition: Point
  /** Round-trip time of the data channel in ms (ping / pong). */
  rtt: number
  /** The video this session receives changed (quality, auto, on/off). */
  video: SignalVideo
  /** The room settings changed (system/settings). */
  settings: Settings
  /** Where other sessions point (inactive cursors); empty: none shown. */
  inactiveCursors: readonly InactiveCursor[]
}

/** Another session's pointer, in remote screen pixels. */
export interface InactiveCursor {
  id: string
  name: string
  x: number
  y: number
}

/** Our pointer goes out as an inactive cursor at most this often (ms). */
const INACTIVE_MOVE_MS = 50

export interface PageLocation {
  protocol: string
  host: string
  pathname: string
}

export interface NekoClientOptions {
  location?: PageLocation
  api?: ApiClient
  fetch?: FetchLike
  storage?: StorageLike
  createWebSocket?: WebSocketFactory
  createPeerConnection?: PeerConnectionFactory
  createMediaStream?: () => MediaStreamLike
  inputScheduler?: Scheduler
  /** Delay before asking for a new peer after `signal/close` or a failure. */
  signalRetryMs?: number
  /** Data channel ping period in ms (0 = never ping). Default 10 s. */
  pingIntervalMs?: number
  objectUrls?: ObjectUrls
  logger?: Logger
}

export class NekoClient {
  readonly events = new Emitter<NekoClientEvents>()
  readonly api: ApiClient
  readonly connection: Connection
  readonly signaling: Signaling
  readonly input: HostInput

  sessionId: string | null = null
  readonly sessions = new Map<string, SessionInfo>()
  hostId: string | null = null
  screenSize: ScreenSize = { width: 1280, height: 720, rate: 30 }
  settings: Settings | null = null
  videos: string[] = []
  stream: MediaStreamLike | null = null
  /** The remote cursor image, once the server sent one. */
  cursorImage: CursorImage | null = null
  /** The remote pointer position, null while unknown. */
  cursorPosition: Point | null = null
  /** Last measured data channel round-trip time (ms). */
  rtt: number | null = null
  /** Other sessions' pointers, when the room shows inactive cursors. */
  inactiveCursors: InactiveCursor[] = []

  private readonly log: Logger
  private readonly signalRetryMs: number
  private readonly pingIntervalMs: number
  private readonly objectUrls: ObjectUrls
  private pingTimer: ReturnType<typeof setInterval> | null = null
  private signalRetryTimer: ReturnType<typeof setTimeout> | null = null
  private disconnectNotified = false
  private lastInactiveMove = 0

  constructor(options: NekoClientOptions = {}) {
    this.log = options.logger ?? consoleLogger
    this.signalRetryMs = options.signalRetryMs ?? 1000
    this.pingIntervalMs = options.pingIntervalMs ?? 10_000
    this.objectUrls = options.objectUrls ?? {
      create: (blob) => URL.createObjectURL(blob),
      revoke: (url) => URL.revokeObjectURL(url),
    }
    const location: PageLocation = options.location ?? globalThis.location
    this.api =
      options.api ??
      new ApiClient({
        base: basePath(location.pathname),
        fetch: options.fetch,
        storage: options.storage,
      })

    this.connection = new Connection({
      url: () => webSocketUrl(location, this.api.token),
      createWebSocket: options.createWebSocket,
      logger: this.log,
      shouldReconnect: (info) => this.shouldReconnect(info.initialized),
    })

    this.signaling = new Signaling({
      send: (event, payload) => {
        this.connection.send(event, payload)
      },
      createPeerConnection: options.createPeerConnection,
      createMediaStream: options.createMediaStream,
      logger: this.log,
    })

    const sendControl: ControlSender = (event, payload) => {
      if (!this.isHost) return
      this.connection.send(event, payload)
      if (event === CONTROL_MOVE) {
        const p = payload as ClientEventMap[typeof CONTROL_MOVE]
        this.setCursorPosition(p.x, p.y)
      }
    }
    this.input = new HostInput(sendControl, { schedule: options.inputScheduler })

    this.wire()
  }

  /* ------------------------------ state ------------------------------ */

  get status(): ConnectionStatus {
    return this.connection.status
  }

  get isHost(): boolean {
    return this.sessionId !== null && this.hostId === this.sessionId
  }

  get me(): SessionInfo | null {
    return this.sessionId ? (this.sessions.get(this.sessionId) ?? null) : null
  }

  get profile(): MemberProfile | null {
    return this.me?.profile ?? null
  }

  get canHost(): boolean {
    return this.profile?.can_host ?? false
  }

  /**
   * Private mode keeps the picture and sound from non-admins: the server
   * pauses their media (the connection stays), so the UI should say why
   * nothing moves.
   */
  get privateMode(): boolean {
    return (this.settings?.private_mode ?? false) && !(this.profile?.is_admin ?? false)
  }

  sessionName(id: string | null | undefined): string {
    if (!id) return ''
    return this.sessions.get(id)?.profile.name || id
  }

  /* ----------------------------- actions ----------------------------- */

  connect(): void {
    this.disconnectNotified = false
    this.connection.connect()
  }

  disconnect(): void {
    this.clearSignalRetry()
    this.connection.disconnect()
    this.signaling.close()
    this.input.reset()
    this.clearCursorImage()
  }

  /** Sends a ping on the data channel (the pong gives `rtt`). */
  ping(now = Date.now()): boolean {
    return this.signaling.sendData(encodePing(now))
  }

  async logout(): Promise<void> {
    this.disconnect()
    await this.api.logout()
  }

  requestControl(): void {
    this.connection.send(CONTROL_REQUEST, null)
  }

  releaseControl(): void {
    this.input.releaseAll()
    this.connection.send(CONTROL_RELEASE, null)
  }

  /** The video this session receives, once the server said. */
  get video(): SignalVideo | null {
    return this.signaling.video
  }

  /**
   * Receive quality `id`, or (with `auto`) let the server's bandwidth
   * estimator choose; the server answers with the new state (`video`).
   */
  setVideo(id: string | null, auto = false): void {
    this.signaling.setVideo(id, auto)
  }

  /**
   * Our pointer while we do not host: with the room's inactive cursors on
   * and a profile that sends them, it goes out as a move the server shows
   * to the others instead of applying it (never when it would make us
   * host: implicit hosting with nobody hosting).
   */
  pointerMoved(p: Point, now = Date.now()): void {
    if (this.isHost || !this.settings?.inactive_cursors) return
    if (!this.profile?.sends_inactive_cursor) return
    // with implicit hosting and nobody hosting, a move would take control
    if (this.hostId === null && this.settings.implicit_hosting) return
    if (now - this.lastInactiveMove < INACTIVE_MOVE_MS) return
    this.lastInactiveMove = now
    this.connection.send(CONTROL_MOVE, { x: Math.round(p.x), y: Math.round(p.y) })
  }

  toggleControl(): void {
    if (this.isHost) this.releaseControl()
    else this.requestControl()
  }

  giveControl(sessionId: string): Promise<void> {
    return this.api.giveControl(sessionId)
  }

  /* ----------------------------- wiring ------------------------------ */

  private wire(): void {
    const conn = this.connection

    conn.lifecycle.on('status', (status) => {
      if (status !== 'connected') {
        // The media peer outlives the socket on the server: keep it, so
        // a socket that reconnects keeps its picture. The next
        // system/init tells whether the server still has it.
        this.clearSignalRetry()
        this.input.reset()
      }
      if (status === 'disconnected' && this.signaling.state !== 'idle') this.signaling.close()
      this.events.emit('status', status)
    })

    conn.on(SYSTEM_INIT, (p) => this.handleInit(p))

    conn.on(SYSTEM_DISCONNECT, (p) => {
      const message = p.message || 'Disconnected by the server'
      this.log.debug('system/disconnect', message)
      this.disconnect()
      this.notifyDisconnected({ message, auth: true })
    })

    conn.on(SESSION_CREATED, (p) => {
      this.sessions.set(p.id, { id: p.id, profile: p.profile, state: p.state })
      this.emitSessions()
    })
    conn.on(SESSION_DELETED, (p) => {
      this.sessions.delete(p.id)
      this.emitSessions()
    })
    conn.on(SESSION_STATE, (p) => {
      const { id, ...state } = p
      const s = this.sessions.get(id)
      if (!s) return
      this.sessions.set(id, { ...s, state: { ...s.state, ...state } })
      this.emitSessions()
    })
    conn.on(SESSION_PROFILE, (p) => {
      const { id, ...profile } = p
      const s = this.sessions.get(id)
      if (!s) return
      this.sessions.set(id, { ...s, profile: { ...s.profile, ...profile } })
      this.emitSessions()
    })

    conn.on(CONTROL_HOST, (p) => this.setHost(p))
    conn.on(SYSTEM_SETTINGS, (p) => {
      const { id: _by, ...settings } = p
      this.settings = { ...this.settings, ...settings } as Settings
      if (!this.settings.inactive_cursors) this.setInactiveCursors([])
      this.events.emit('settings', this.settings)
    })
    conn.on(SESSION_CURSORS, (p) => {
      const list: InactiveCursor[] = []
      for (const entry of p) {
        const last = entry?.cursors?.[entry.cursors.length - 1]
        // our own, and the host's (drawn from the data channel), are not
        // inactive cursors
        if (!last || entry.id === this.sessionId || entry.id === this.hostId) continue
        list.push({ id: entry.id, name: this.sessionName(entry.id), x: last.x, y: last.y })
      }
      this.setInactiveCursors(list)
    })
    conn.on(CONTROL_REQUEST, (p) => {
      this.events.emit('controlRequest', { id: p.id, name: this.sessionName(p.id) })
    })
    conn.on(SCREEN_UPDATED, (p) => {
      this.screenSize = { width: p.width, height: p.height, rate: p.rate }
      this.events.emit('screen', this.screenSize)
    })

    conn.on(SIGNAL_PROVIDE, (p) => {
      this.clearSignalRetry()
      void this.signaling.handleProvide(p)
    })
    conn.on(SIGNAL_CANDIDATE, (p) => this.signaling.handleCandidate(p))
    conn.on(SIGNAL_RESTART, (p) => void this.signaling.handleOffer(p.sdp))
    conn.on(SIGNAL_OFFER, (p) => void this.signaling.handleOffer(p.sdp))
    conn.on(SIGNAL_VIDEO, (p) => this.signaling.recordVideo(p))
    conn.on(SIGNAL_AUDIO, (p) => this.signaling.recordAudio(p))
    conn.on(SIGNAL_CLOSE, () => {
      this.log.debug('signal/close: peer closed by the server')
      this.signaling.close()
      this.scheduleSignalRequest()
    })

    this.signaling.events.on('track', ({ stream }) => {
      this.stream = stream
      this.events.emit('stream', stream)
    })
    this.signaling.events.on('channel', (open) => {
      this.stopPing()
      if (open) this.startPing()
      else this.cursorPosition = null // a new channel sends it again
      this.events.emit('dataChannel', open)
    })
    this.signaling.events.on('data', (data) => this.handleData(data))
    this.signaling.events.on('video', (v) => this.events.emit('video', v))
    this.signaling.events.on('state', (state) => {
      this.events.emit('peer', state)
      if (state === 'failed') {
        this.signaling.close()
        this.scheduleSignalRequest()
      }
    })
  }

  private handleData(data: ArrayBuffer): void {
    const msg = decodeDataMessage(data)
    if (!msg) {
      this.log.debug('malformed data channel message ignored', data.byteLength)
      return
    }
    switch (msg.type) {
      case 'cursorPosition':
        this.setCursorPosition(msg.x, msg.y)
        break
      case 'cursorImage':
        this.setCursorImage(msg)
        break
      case 'pong': {
        const rtt = Date.now() - msg.clientTime
        if (rtt < 0 || !Number.isFinite(rtt)) return
        this.rtt = rtt
        this.events.emit('rtt', rtt)
        break
      }
    }
  }

  private setCursorPosition(x: number, y: number): void {
    const p = this.cursorPosition
    if (p && p.x === x && p.y === y) return
    this.cursorPosition = { x, y }
    this.events.emit('cursorPosition', { x, y })
  }

  private setCursorImage(msg: CursorImageMessage): void {
    let url: string
    try {
      url = this.objectUrls.create(new Blob([msg.png], { type: 'image/png' }))
    } catch (err) {
      this.log.debug('cursor image not usable', err)
      return
    }
    this.clearCursorImage()
    const image: CursorImage = {
      width: msg.width,
      height: msg.height,
      xHot: msg.xHot,
      yHot: msg.yHot,
      url,
    }
    this.cursorImage = image
    this.events.emit('cursorImage', { ...image })
  }

  private clearCursorImage(): void {
    if (!this.cursorImage) return
    this.objectUrls.revoke(this.cursorImage.url)
    this.cursorImage = null
  }

  private startPing(): void {
    if (this.pingIntervalMs <= 0) return
    this.ping()
    this.pingTimer = setInterval(() => this.ping(), this.pingIntervalMs)
  }

  private stopPing(): void {
    if (this.pingTimer) clearInterval(this.pingTimer)
    this.pingTimer = null
  }

  private handleInit(p: SystemInitPayload): void {
    // The same session reconnecting, with a peer both ends still call
    // connected (the server says so in its state), keeps that peer.
    const keepPeer =
      this.sessionId === p.session_id &&
      this.signaling.state === 'connected' &&
      p.sessions?.[p.session_id]?.state.is_watching === true
    this.sessionId = p.session_id
    this.sessions.clear()
    for (const [id, s] of Object.entries(p.sessions ?? {})) {
      this.sessions.set(id, { id, profile: s.profile, state: s.state })
    }
    this.settings = p.settings
    this.videos = p.webrtc?.videos ?? []
    if (p.screen_size) this.screenSize = { ...p.screen_size }
    this.events.emit('init', p)
    this.emitSessions()
    this.events.emit('screen', this.screenSize)
    this.setHost(p.control_host)

    this.clearSignalRetry()
    if (keepPeer) {
      this.log.debug('socket reconnected; keeping the media peer')
      return
    }
    this.signaling.close()
    this.signaling.request()
  }

  private setInactiveCursors(list: InactiveCursor[]): void {
    if (list.length === 0 && this.inactiveCursors.length === 0) return
    this.inactiveCursors = list
    this.events.emit('inactiveCursors', list)
  }

  private setHost(p: ControlHost | null | undefined): void {
    const wasHost = this.isHost
    this.hostId = p && p.has_host && p.host_id ? p.host_id : null
    if (wasHost && !this.isHost) this.input.reset()
    this.events.emit('host', { hostId: this.hostId, isHost: this.isHost })
  }

  private emitSessions(): void {
    this.events.emit('sessions', this.sessions)
  }

  private scheduleSignalRequest(): void {
    this.clearSignalRetry()
    this.signalRetryTimer = setTimeout(() => {
      this.signalRetryTimer = null
      if (this.connection.status === 'connected') this.signaling.request()
    }, this.signalRetryMs)
  }

  private clearSignalRetry(): void {
    if (this.signalRetryTimer) clearTimeout(this.signalRetryTimer)
    this.signalRetryTimer = null
  }

  private notifyDisconnected(info: DisconnectInfo): void {
    if (this.disconnectNotified) return
    this.disconnectNotified = true
    this.events.emit('disconnected', info)
  }

  /** Before the first system/init a failed socket may mean "not logged in". */
  private async shouldReconnect(initialized: boolean): Promise<boolean> {
    if (initialized) return true
    try {
      const session = await this.api.whoami()
      if (session) return true
    } catch (err) {
      this.log.debug('whoami failed; server unreachable, retrying', err)
      return true
    }
    this.notifyDisconnected({
      message: 'Your session has expired. Please log in again.',
      auth: true,
    })
    return false
  }
}
