// WebRTC signalling: the server sends the offer (`signal/provide`), the client
// answers. ICE candidates that arrive before the remote description is set
// are buffered and applied afterwards.

import { Emitter } from './emitter'
import { consoleLogger, type Logger } from './log'
import {
  SIGNAL_ANSWER,
  SIGNAL_CANDIDATE,
  SIGNAL_REQUEST,
  SIGNAL_VIDEO,
  type ClientEvent,
  type ClientEventMap,
  type IceCandidate,
  type IceServer,
  type SignalAudio,
  type SignalProvidePayload,
  type SignalVideo,
} from './protocol'

/** The subset of RTCPeerConnection used here (replaceable in tests). */
export interface PeerConnectionLike {
  readonly connectionState: string
  onicecandidate: ((ev: { candidate: { toJSON(): RTCIceCandidateInit } | null }) => void) | null
  ontrack: ((ev: { track: MediaStreamTrack }) => void) | null
  onconnectionstatechange: ((ev: unknown) => void) | null
  ondatachannel: ((ev: { channel: DataChannelLike }) => void) | null
  setRemoteDescription(description: RTCSessionDescriptionInit): Promise<void>
  createAnswer(): Promise<RTCSessionDescriptionInit>
  setLocalDescription(description: RTCSessionDescriptionInit): Promise<void>
  addIceCandidate(candidate: RTCIceCandidateInit): Promise<void>
  close(): void
}

/** The subset of RTCDataChannel used here. */
export interface DataChannelLike {
  readonly label: string
  readonly readyState: string
  binaryType: string
  onopen: ((ev: unknown) => void) | null
  onclose: ((ev: unknown) => void) | null
  onmessage: ((ev: { data: unknown }) => void) | null
  send(data: ArrayBuffer): void
  close(): void
}

export type PeerConnectionFactory = (config: RTCConfiguration) => PeerConnectionLike

/** The subset of MediaStream used here. */
export interface MediaStreamLike {
  addTrack(track: MediaStreamTrack): void
  removeTrack(track: MediaStreamTrack): void
  getTracks(): MediaStreamTrack[]
}

export type PeerState = 'idle' | 'new' | 'connecting' | 'connected' | 'disconnected' | 'failed'

export interface SignalingEvents {
  /** A track was added; `stream` holds all tracks of the current peer. */
  track: { track: MediaStreamTrack; stream: MediaStreamLike }
  state: PeerState
  video: SignalVideo
  audio: SignalAudio
  /** The server's data channel opened (`true`) or went away (`false`). */
  channel: boolean
  /** A binary message arrived on the data channel. */
  data: ArrayBuffer
}

export type SignalSender = <K extends ClientEvent>(event: K, payload: ClientEventMap[K]) => void

export interface SignalingOptions {
  send: SignalSender
  createPeerConnection?: PeerConnectionFactory
  createMediaStream?: () => MediaStreamLike
  logger?: Logger
}

export function toRtcIceServers(servers: IceServer[] | null | undefined): RTCIceServer[] {
  return (servers ?? [])
    .filter((s) => s && s.urls && s.urls.length > 0)
    .map((s) => {
      const out: RTCIceServer = { urls: s.urls }
      if (s.username) out.username = s.username
      if (s.credential) out.credential = s.credential
      return out
    })
}

function toCandidateInit(c: IceCandidate): RTCIceCandidateInit {
  const init: RTCIceCandidateInit = { candidate: c.candidate }
  if (c.sdpMid !== undefined && c.sdpMid !== null) init.sdpMid = c.sdpMid
  if (c.sdpMLineIndex !== undefined && c.sdpMLineIndex !== null) {
    init.sdpMLineIndex = c.sdpMLineIndex
  }
  if (c.usernameFragment) init.usernameFragment = c.usernameFragment
  // addIceCandidate rejects a candidate that has neither mid nor index
  if (init.sdpMid === undefined && init.sdpMLineIndex === undefined) init.sdpMLineIndex = 0
  return init
}

export class Signaling {
  readonly events = new Emitter<SignalingEvents>()

  private readonly options: SignalingOptions
  private readonly log: Logger
  private pc: PeerConnectionLike | null = null
  private stream: MediaStreamLike | null = null
  private dc: DataChannelLike | null = null
  private remoteReady = false
  private pending: IceCandidate[] = []
  /** Offer/answer exchanges run one after the other. */
  private queue: Promise<void> = Promise.resolve()
  /** Bumped on every teardown so stale async work can bail out. */
  private generation = 0
  private _state: PeerState = 'idle'

  video: SignalVideo | null = null
  audio: SignalAudio | null = null
  /** The quality asked for (null: the server's default), and `auto`. */
  videoPreference: { id: string | null; auto: boolean } = { id: null, auto: false }

  constructor(options: SignalingOptions) {
    this.options = options
    this.log = options.logger ?? consoleLogger
  }

  get state(): PeerState {
    return this._state
  }

  get peer(): PeerConnectionLike | null {
    return this.pc
  }

  /** Whether the server's data channel is open. */
  get channelOpen(): boolean {
    return this.dc !== null && this.dc.readyState === 'open'
  }

  /** Sends a binary message on the data channel; false when it is not open. */
  sendData(data: ArrayBuffer): boolean {
    const dc = this.dc
    if (!dc || dc.readyState !== 'open') return false
    try {
      dc.send(data)
      return true
    } catch (err) {
      this.log.debug('data channel send failed', err)
      return false
    }
  }

  /** Number of candidates waiting for the remote description. */
  get pendingCandidates(): number {
    return this.pending.length
  }

  /** Ask the server for a peer connection (it answers with `signal/provide`). */
  request(): void {
    const { id, auto } = this.videoPreference
    this.options.send(SIGNAL_REQUEST, {
      video: { disabled: false, selector: id ? { id, type: 'exact' } : null, auto },
      audio: { disabled: false },
    })
  }

  /**
   * Choose a video quality, or let the server choose (`auto`, when its
   * bandwidth estimator is on); kept for the next peer too. The server
   * answers with `signal/video` when the request changed anything.
   */
  setVideo(id: string | null, auto: boolean): void {
    this.videoPreference = { id, auto }
    this.options.send(SIGNAL_VIDEO, { selector: id ? { id, type: 'exact' } : null, auto })
  }

  /** `signal/provide`: the server's offer for a new peer connection. */
  handleProvide(payload: SignalProvidePayload): Promise<void> {
    this.teardownPeer(false)
    const generation = this.generation
    const pc = this.createPeer(payload.iceservers)
    this.pc = pc
    this.setState('new')
    if (payload.video) this.recordVideo(payload.video)
    if (payload.audio) this.recordAudio(payload.audio)
    return this.enqueue(generation, async () => {
      if (generation !== this.generation) return
      await pc.setRemoteDescription({ type: 'offer', sdp: payload.sdp })
      if (generation !== this.generation) return
      this.remoteReady = true
      await this.flushCandidates(pc, generation)
      await this.answer(pc, generation)
    })
  }

  /** `signal/restart` (ICE restart) or `signal/offer` (renegotiation). */
  handleOffer(sdp: string): Promise<void> {
    const pc = this.pc
    if (!pc) {
      this.log.debug('offer without a peer connection, ignored')
      return Promise.resolve()
    }
    const generation = this.generation
    return this.enqueue(generation, async () => {
      if (generation !== this.generation) return
      await pc.setRemoteDescription({ type: 'offer', sdp })
      if (generation !== this.generation) return
      this.remoteReady = true
      await this.flushCandidates(pc, generation)
      await this.answer(pc, generation)
    })
  }

  /** `signal/candidate` from the server. */
  handleCandidate(candidate: IceCandidate): void {
    if (!candidate || typeof candidate.candidate !== 'string') return
    const pc = this.pc
    if (!pc || !this.remoteReady) {
      this.pending.push(candidate)
      return
    }
    this.addCandidate(pc, candidate)
  }

  recordVideo(video: SignalVideo): void {
    this.video = video
    this.events.emit('video', video)
  }

  recordAudio(audio: SignalAudio): void {
    this.audio = audio
    this.events.emit('audio', audio)
  }

  /** Tear the peer down (e.g. on `signal/close` or when the socket drops). */
  close(): void {
    this.teardownPeer(true)
  }

  private teardownPeer(dropPending: boolean): void {
    this.generation++
    this.remoteReady = false
    if (dropPending) this.pending = []
    const pc = this.pc
    this.pc = null
    this.stream = null
    this.detachChannel()
    if (pc) {
      pc.onicecandidate = null
      pc.ontrack = null
      pc.onconnectionstatechange = null
      pc.ondatachannel = null
      try {
        pc.close()
      } catch {
        // ignore
      }
    }
    this.setState('idle')
  }

  private createPeer(iceservers: IceServer[]): PeerConnectionLike {
    const config: RTCConfiguration = { iceServers: toRtcIceServers(iceservers) }
    const pc = this.options.createPeerConnection
      ? this.options.createPeerConnection(config)
      : (new RTCPeerConnection(config) as unknown as PeerConnectionLike)

    pc.onicecandidate = (ev) => {
      if (this.pc !== pc || !ev.candidate) return
      const json = ev.candidate.toJSON()
      if (!json.candidate) return // end-of-candidates marker
      this.options.send(SIGNAL_CANDIDATE, {
        candidate: json.candidate,
        sdpMid: json.sdpMid ?? null,
        sdpMLineIndex: json.sdpMLineIndex ?? null,
        usernameFragment: json.usernameFragment ?? null,
      })
    }
    pc.ontrack = (ev) => {
      if (this.pc !== pc) return
      const stream = this.ensureStream()
      // keep one track per kind: a renegotiated track replaces the old one
      for (const old of stream.getTracks()) {
        if (old.kind === ev.track.kind && old !== ev.track) stream.removeTrack(old)
      }
      if (!stream.getTracks().includes(ev.track)) stream.addTrack(ev.track)
      this.log.debug('track', ev.track.kind)
      this.events.emit('track', { track: ev.track, stream })
    }
    pc.onconnectionstatechange = () => {
      if (this.pc !== pc) return
      const s = pc.connectionState
      if (s === 'new' || s === 'connecting' || s === 'connected' || s === 'disconnected') {
        this.setState(s)
      } else if (s === 'failed') {
        this.setState('failed')
      }
    }
    pc.ondatachannel = (ev) => {
      if (this.pc !== pc || !ev || !ev.channel) return
      this.attachChannel(ev.channel)
    }
    return pc
  }

  /** Takes the server's data channel (a newer one replaces the old). */
  private attachChannel(dc: DataChannelLike): void {
    this.detachChannel()
    this.log.debug('data channel', dc.label)
    this.dc = dc
    try {
      dc.binaryType = 'arraybuffer'
    } catch {
      // ignore: messages that are not ArrayBuffers are dropped below
    }
    dc.onopen = () => {
      if (this.dc === dc) this.events.emit('channel', true)
    }
    dc.onclose = () => {
      if (this.dc !== dc) return
      this.dc = null
      this.events.emit('channel', false)
    }
    dc.onmessage = (ev) => {
      if (this.dc !== dc) return
      const data = ev.data
      if (data instanceof ArrayBuffer) {
        this.events.emit('data', data)
      } else if (ArrayBuffer.isView(data)) {
        const copy = new Uint8Array(data.byteLength)
        copy.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
        this.events.emit('data', copy.buffer)
      } else {
        this.log.debug('non-binary data channel message ignored')
      }
    }
    if (dc.readyState === 'open') this.events.emit('channel', true)
  }

  private detachChannel(): void {
    const dc = this.dc
    if (!dc) return
    this.dc = null
    const wasOpen = dc.readyState === 'open'
    dc.onopen = null
    dc.onclose = null
    dc.onmessage = null
    try {
      dc.close()
    } catch {
      // ignore
    }
    if (wasOpen) this.events.emit('channel', false)
  }

  private ensureStream(): MediaStreamLike {
    if (!this.stream) {
      this.stream = this.options.createMediaStream
        ? this.options.createMediaStream()
        : (new MediaStream() as MediaStreamLike)
    }
    return this.stream
  }

  private async answer(pc: PeerConnectionLike, generation: number): Promise<void> {
    const answer = await pc.createAnswer()
    if (generation !== this.generation) return
    await pc.setLocalDescription(answer)
    if (generation !== this.generation) return
    this.options.send(SIGNAL_ANSWER, { sdp: answer.sdp ?? '' })
  }

  private async flushCandidates(pc: PeerConnectionLike, generation: number): Promise<void> {
    const pending = this.pending
    this.pending = []
    for (const candidate of pending) {
      if (generation !== this.generation) return
      await this.addCandidate(pc, candidate)
    }
  }

  private async addCandidate(pc: PeerConnectionLike, candidate: IceCandidate): Promise<void> {
    try {
      await pc.addIceCandidate(toCandidateInit(candidate))
    } catch (err) {
      this.log.debug('addIceCandidate failed', err)
    }
  }

  private enqueue(generation: number, task: () => Promise<void>): Promise<void> {
    const run = this.queue.then(task).catch((err: unknown) => {
      if (generation !== this.generation) return
      this.log.warn('signalling failed', err)
      this.setState('failed')
    })
    this.queue = run
    return run
  }

  private setState(state: PeerState): void {
    if (this._state === state) return
    this._state = state
    this.events.emit('state', state)
  }
}
