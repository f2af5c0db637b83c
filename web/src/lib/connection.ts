// WebSocket connection to `api/ws`: typed event dispatch, automatic
// reconnection with exponential backoff and the client heartbeat.

import { Emitter } from './emitter'
import { consoleLogger, type Logger } from './log'
import {
  CLIENT_HEARTBEAT,
  SYSTEM_HEARTBEAT,
  SYSTEM_INIT,
  decodeServerMessage,
  encodeClientMessage,
  type ClientEvent,
  type ClientEventMap,
  type ServerEventMap,
} from './protocol'

export type ConnectionStatus = 'disconnected' | 'connecting' | 'connected' | 'reconnecting'

/** The subset of the browser WebSocket the connection uses. */
export interface WebSocketLike {
  readonly readyState: number
  onopen: ((ev: unknown) => void) | null
  onclose: ((ev: { code: number; reason: string }) => void) | null
  onerror: ((ev: unknown) => void) | null
  onmessage: ((ev: { data: unknown }) => void) | null
  send(data: string): void
  close(code?: number, reason?: string): void
}

export type WebSocketFactory = (url: string) => WebSocketLike

const WS_OPEN = 1

export interface BackoffOptions {
  /** First retry delay in ms. */
  initial: number
  /** Upper bound of the delay in ms. */
  max: number
  factor: number
  /** Relative random spread, 0.2 = ±20 %. */
  jitter: number
}

export const DEFAULT_BACKOFF: BackoffOptions = { initial: 1000, max: 15000, factor: 2, jitter: 0.2 }

/** Delay before retry number `attempt` (0-based). */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions = DEFAULT_BACKOFF,
  random: () => number = Math.random,
): number {
  const base = Math.min(options.max, options.initial * Math.pow(options.factor, attempt))
  const spread = options.jitter * (random() * 2 - 1)
  return Math.max(0, Math.round(base * (1 + spread)))
}

export interface CloseInfo {
  code: number
  reason: string
  /** Whether `system/init` was received on this socket. */
  initialized: boolean
}

export interface ConnectionLifecycleEvents {
  status: ConnectionStatus
  /** The socket closed; `reconnecting` tells whether a retry is scheduled. */
  closed: CloseInfo & { reconnecting: boolean }
}

export interface ConnectionOptions {
  /** Called for every (re)connect so that a fresh token can be used. */
  url: () => string
  createWebSocket?: WebSocketFactory
  backoff?: Partial<BackoffOptions>
  random?: () => number
  /**
   * Asked after an unexpected close whether to try again; e.g. check
   * `api/whoami` and give up when the session is gone. Defaults to yes.
   */
  shouldReconnect?: (info: CloseInfo) => boolean | Promise<boolean>
  logger?: Logger
}

export class Connection {
  /** Server events, typed by `ServerEventMap`. */
  readonly events = new Emitter<ServerEventMap>()
  /** Connection lifecycle (status changes, closes). */
  readonly lifecycle = new Emitter<ConnectionLifecycleEvents>()

  private readonly options: ConnectionOptions
  private readonly backoff: BackoffOptions
  private readonly log: Logger
  private ws: WebSocketLike | null = null
  private _status: ConnectionStatus = 'disconnected'
  private wanted = false
  private initialized = false
  private attempt = 0
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null
  private heartbeatTimer: ReturnType<typeof setInterval> | null = null
  private watchdogTimer: ReturnType<typeof setInterval> | null = null
  private lastMessageAt = 0
  private heartbeatSeconds = 0

  constructor(options: ConnectionOptions) {
    this.options = options
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff }
    this.log = options.logger ?? consoleLogger
  }

  get status(): ConnectionStatus {
    return this._status
  }

  /** Number of reconnect attempts since the last successful `system/init`. */
  get attempts(): number {
    return this.attempt
  }

  get isOpen(): boolean {
    return this.ws !== null && this.ws.readyState === WS_OPEN
  }

  on<K extends keyof ServerEventMap>(
    event: K,
    listener: (payload: ServerEventMap[K]) => void,
  ): () => void {
    return this.events.on(event, listener)
  }

  connect(): void {
    this.wanted = true
    if (this.ws || this.reconnectTimer) return
    this.attempt = 0
    this.open('connecting')
  }

  /** Close for good (no reconnect). */
  disconnect(): void {
    this.wanted = false
    this.clearReconnect()
    this.stopHeartbeat()
    const ws = this.ws
    this.ws = null
    if (ws) {
      this.detach(ws)
      try {
        ws.close(1000, 'client disconnect')
      } catch {
        // ignore
      }
    }
    this.setStatus('disconnected')
  }

  /** Send a client event; returns false (and drops it) when not connected. */
  send<K extends ClientEvent>(event: K, payload: ClientEventMap[K]): boolean {
    if (!this.ws || this.ws.readyState !== WS_OPEN) {
      this.log.debug('dropping', event, '(socket not open)')
      return false
    }
    this.ws.send(encodeClientMessage(event, payload))
    return true
  }

  private setStatus(status: ConnectionStatus): void {
    if (this._status === status) return
    this._status = status
    this.lifecycle.emit('status', status)
  }

  private open(status: 'connecting' | 'reconnecting'): void {
    this.setStatus(status)
    this.initialized = false
    let ws: WebSocketLike
    try {
      const url = this.options.url()
      ws = this.options.createWebSocket
        ? this.options.createWebSocket(url)
        : (new WebSocket(url) as unknown as WebSocketLike)
    } catch (err) {
      this.log.warn('cannot create WebSocket', err)
      this.handleClose({ code: 1006, reason: String(err) })
      return
    }
    this.ws = ws
    ws.onopen = () => {
      this.log.debug('socket open')
      this.lastMessageAt = Date.now()
    }
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return
      this.lastMessageAt = Date.now()
      if (typeof ev.data !== 'string') {
        this.log.debug('ignoring binary message')
        return
      }
      this.dispatch(ev.data)
    }
    ws.onerror = (ev) => {
      this.log.debug('socket error', ev)
    }
    ws.onclose = (ev) => {
      if (this.ws !== ws) return
      this.handleClose({ code: ev.code, reason: ev.reason })
    }
  }

  private dispatch(data: string): void {
    const result = decodeServerMessage(data)
    if (!result.ok) {
      this.log.debug(`ignoring ${result.reason} message`, result.event ?? data.slice(0, 200))
      return
    }
    const message = result.message
    if (message.event === SYSTEM_INIT) {
      this.initialized = true
      this.attempt = 0
      this.startHeartbeat(message.payload.settings?.heartbeat_interval ?? 0)
    } else if (message.event === SYSTEM_HEARTBEAT) {
      this.startWatchdog()
    }
    this.events.emit(message.event, message.payload)
    // after the listeners so that they see the initial state first
    if (message.event === SYSTEM_INIT) this.setStatus('connected')
  }

  private detach(ws: WebSocketLike): void {
    ws.onopen = null
    ws.onmessage = null
    ws.onerror = null
    ws.onclose = null
  }

  private async handleClose(close: { code: number; reason: string }): Promise<void> {
    const ws = this.ws
    this.ws = null
    if (ws) this.detach(ws)
    this.stopHeartbeat()
    const info: CloseInfo = { ...close, initialized: this.initialized }
    this.log.debug('socket closed', info)

    let retry = this.wanted
    if (retry && this.options.shouldReconnect) {
      this.setStatus('reconnecting')
      try {
        retry = await this.options.shouldReconnect(info)
      } catch (err) {
        this.log.debug('shouldReconnect failed, retrying anyway', err)
        retry = true
      }
      // disconnect() or connect() may have been called meanwhile
      if (!this.wanted || this.ws || this.reconnectTimer) return
    }

    if (!retry) {
      this.wanted = false
      this.setStatus('disconnected')
      this.lifecycle.emit('closed', { ...info, reconnecting: false })
      return
    }

    const delay = backoffDelay(this.attempt, this.backoff, this.options.random)
    this.attempt++
    this.setStatus('reconnecting')
    this.lifecycle.emit('closed', { ...info, reconnecting: true })
    this.log.debug(`reconnecting in ${delay} ms (attempt ${this.attempt})`)
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null
      if (this.wanted) this.open('reconnecting')
    }, delay)
  }

  private clearReconnect(): void {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer)
    this.reconnectTimer = null
  }

  private startHeartbeat(seconds: number): void {
    this.stopHeartbeat()
    this.heartbeatSeconds = seconds > 0 ? seconds : 0
    if (!this.heartbeatSeconds) return
    this.heartbeatTimer = setInterval(() => {
      this.send(CLIENT_HEARTBEAT, null)
    }, this.heartbeatSeconds * 1000)
  }

  /**
   * Armed once the server has sent a `system/heartbeat`: if nothing at all
   * arrives for 2.5 heartbeat intervals (at least 15 s) the socket is taken
   * for dead and replaced.
   */
  private startWatchdog(): void {
    if (this.watchdogTimer || !this.heartbeatSeconds) return
    const timeout = Math.max(this.heartbeatSeconds * 2500, 15000)
    this.watchdogTimer = setInterval(
      () => {
        if (!this.ws || Date.now() - this.lastMessageAt <= timeout) return
        this.log.warn('no message from server for', timeout, 'ms; reconnecting')
        const ws = this.ws
        this.detach(ws)
        try {
          ws.close(4000, 'heartbeat timeout')
        } catch {
          // ignore
        }
        void this.handleClose({ code: 4000, reason: 'heartbeat timeout' })
      },
      Math.min(timeout / 2, 5000),
    )
  }

  private stopHeartbeat(): void {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer)
    if (this.watchdogTimer) clearInterval(this.watchdogTimer)
    this.heartbeatTimer = null
    this.watchdogTimer = null
  }
}
