// Test doubles for WebSocket / RTCPeerConnection / MediaStream (tests only).

import type { WebSocketLike } from './connection'
import type { DataChannelLike, MediaStreamLike, PeerConnectionLike } from './signaling'

export class FakeWebSocket implements WebSocketLike {
  static instances: FakeWebSocket[] = []

  readyState = 0
  onopen: ((ev: unknown) => void) | null = null
  onclose: ((ev: { code: number; reason: string }) => void) | null = null
  onerror: ((ev: unknown) => void) | null = null
  onmessage: ((ev: { data: unknown }) => void) | null = null
  readonly sent: string[] = []
  closed = false

  constructor(readonly url: string) {
    FakeWebSocket.instances.push(this)
  }

  static get last(): FakeWebSocket {
    const ws = FakeWebSocket.instances[FakeWebSocket.instances.length - 1]
    if (!ws) throw new Error('no FakeWebSocket created')
    return ws
  }

  static reset(): void {
    FakeWebSocket.instances = []
  }

  /** Parsed messages the client sent. */
  get messages(): { event: string; payload?: unknown }[] {
    return this.sent.map((s) => JSON.parse(s) as { event: string; payload?: unknown })
  }

  events(): string[] {
    return this.messages.map((m) => m.event)
  }

  send(data: string): void {
    if (this.readyState !== 1) throw new Error('send on a socket that is not open')
    this.sent.push(data)
  }

  close(): void {
    this.closed = true
    this.readyState = 3
  }

  // --- driven by the test ---
  open(): void {
    this.readyState = 1
    this.onopen?.({})
  }

  receive(event: string, payload?: unknown): void {
    this.onmessage?.({
      data: JSON.stringify(payload === undefined ? { event } : { event, payload }),
    })
  }

  receiveRaw(data: unknown): void {
    this.onmessage?.({ data })
  }

  serverClose(code = 1006, reason = ''): void {
    this.readyState = 3
    this.onclose?.({ code, reason })
  }
}

export class FakeTrack {
  constructor(
    readonly kind: 'audio' | 'video',
    readonly id = `${kind}-${Math.random().toString(36).slice(2)}`,
  ) {}
}

export class FakeMediaStream implements MediaStreamLike {
  private tracks: MediaStreamTrack[] = []
  addTrack(track: MediaStreamTrack): void {
    this.tracks.push(track)
  }
  removeTrack(track: MediaStreamTrack): void {
    this.tracks = this.tracks.filter((t) => t !== track)
  }
  getTracks(): MediaStreamTrack[] {
    return [...this.tracks]
  }
}

export class FakeDataChannel implements DataChannelLike {
  readyState = 'connecting'
  binaryType = 'blob'
  onopen: DataChannelLike['onopen'] = null
  onclose: DataChannelLike['onclose'] = null
  onmessage: DataChannelLike['onmessage'] = null
  readonly sent: ArrayBuffer[] = []
  closed = false

  constructor(readonly label = 'data') {}

  send(data: ArrayBuffer): void {
    if (this.readyState !== 'open') throw new Error('send on a channel that is not open')
    this.sent.push(data)
  }

  close(): void {
    this.closed = true
    this.readyState = 'closed'
  }

  // --- driven by the test ---
  open(): void {
    this.readyState = 'open'
    this.onopen?.({})
  }

  receive(data: unknown): void {
    this.onmessage?.({ data })
  }

  remoteClose(): void {
    this.readyState = 'closed'
    this.onclose?.({})
  }
}

/** Records every call; remote/local description operations resolve on demand. */
export class FakePeerConnection implements PeerConnectionLike {
  static instances: FakePeerConnection[] = []

  connectionState = 'new'
  onicecandidate: PeerConnectionLike['onicecandidate'] = null
  ontrack: PeerConnectionLike['ontrack'] = null
  onconnectionstatechange: PeerConnectionLike['onconnectionstatechange'] = null
  ondatachannel: PeerConnectionLike['ondatachannel'] = null

  remoteDescription: RTCSessionDescriptionInit | null = null
  localDescription: RTCSessionDescriptionInit | null = null
  readonly calls: string[] = []
  readonly candidates: RTCIceCandidateInit[] = []
  closed = false
  /** When set, setRemoteDescription waits for `releaseRemote()`. */
  static holdRemote = false
  private releaseRemoteFn: (() => void) | null = null

  constructor(readonly config: RTCConfiguration) {
    FakePeerConnection.instances.push(this)
  }

  static get last(): FakePeerConnection {
    const pc = FakePeerConnection.instances[FakePeerConnection.instances.length - 1]
    if (!pc) throw new Error('no FakePeerConnection created')
    return pc
  }

  static reset(): void {
    FakePeerConnection.instances = []
    FakePeerConnection.holdRemote = false
  }

  async setRemoteDescription(description: RTCSessionDescriptionInit): Promise<void> {
    this.calls.push(`setRemoteDescription:${description.type}`)
    if (FakePeerConnection.holdRemote) {
      await new Promise<void>((resolve) => (this.releaseRemoteFn = resolve))
    }
    this.remoteDescription = description
  }

  releaseRemote(): void {
    this.releaseRemoteFn?.()
    this.releaseRemoteFn = null
  }

  async createAnswer(): Promise<RTCSessionDescriptionInit> {
    this.calls.push('createAnswer')
    if (!this.remoteDescription) throw new Error('createAnswer without remote description')
    return { type: 'answer', sdp: `answer-to:${this.remoteDescription.sdp ?? ''}` }
  }

  async setLocalDescription(description: RTCSessionDescriptionInit): Promise<void> {
    this.calls.push(`setLocalDescription:${description.type}`)
    this.localDescription = description
  }

  async addIceCandidate(candidate: RTCIceCandidateInit): Promise<void> {
    if (!this.remoteDescription) throw new Error('addIceCandidate before remote description')
    this.calls.push(`addIceCandidate:${candidate.candidate ?? ''}`)
    this.candidates.push(candidate)
  }

  close(): void {
    this.closed = true
    this.connectionState = 'closed'
  }

  // --- driven by the test ---
  emitCandidate(init: RTCIceCandidateInit | null): void {
    this.onicecandidate?.({ candidate: init ? { toJSON: () => init } : null })
  }

  emitTrack(kind: 'audio' | 'video'): MediaStreamTrack {
    const track = new FakeTrack(kind) as unknown as MediaStreamTrack
    this.ontrack?.({ track })
    return track
  }

  emitDataChannel(channel = new FakeDataChannel()): FakeDataChannel {
    this.ondatachannel?.({ channel })
    return channel
  }

  setState(state: string): void {
    this.connectionState = state
    this.onconnectionstatechange?.({})
  }
}

/** Let pending promise callbacks run. */
export async function flushPromises(rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve()
}
