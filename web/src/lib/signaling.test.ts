import { beforeEach, describe, expect, it } from 'vitest'
import { silentLogger } from './log'
import type { ClientEvent, ClientEventMap, SignalProvidePayload } from './protocol'
import { Signaling, toRtcIceServers, type PeerState } from './signaling'
import { FakeDataChannel, FakeMediaStream, FakePeerConnection, flushPromises } from './test-fakes'

interface Sent {
  event: ClientEvent
  payload: unknown
}

function setup() {
  const sent: Sent[] = []
  const signaling = new Signaling({
    send: <K extends ClientEvent>(event: K, payload: ClientEventMap[K]) => {
      sent.push({ event, payload })
    },
    createPeerConnection: (config) => new FakePeerConnection(config),
    createMediaStream: () => new FakeMediaStream(),
    logger: silentLogger,
  })
  const states: PeerState[] = []
  signaling.events.on('state', (s) => states.push(s))
  return { signaling, sent, states }
}

const provide = (sdp = 'offer-1'): SignalProvidePayload => ({
  sdp,
  iceservers: [
    { urls: ['stun:stun.example.org:3478'] },
    { urls: ['turn:turn.example.org'], username: 'u', credential: 'p' },
  ],
  video: { disabled: false, id: 'hd', video: 'hd', auto: false },
  audio: { disabled: false },
})

const cand = (n: number) => ({
  candidate: `candidate:${n} 1 udp 2122260223 10.0.0.1 5000${n} typ host`,
  sdpMid: '0',
  sdpMLineIndex: 0,
  usernameFragment: 'abcd',
})

beforeEach(() => {
  FakePeerConnection.reset()
})

describe('Signaling', () => {
  it('sends signal/request with the expected payload', () => {
    const { signaling, sent } = setup()
    signaling.request()
    expect(sent).toEqual([
      {
        event: 'signal/request',
        payload: {
          video: { disabled: false, selector: null, auto: false },
          audio: { disabled: false },
        },
      },
    ])
  })

  it('asks for a quality or auto with signal/video and keeps it for the next request', () => {
    const { signaling, sent } = setup()
    signaling.setVideo('lq', false)
    signaling.setVideo('lq', true)
    signaling.request()
    expect(sent).toEqual([
      { event: 'signal/video', payload: { selector: { id: 'lq', type: 'exact' }, auto: false } },
      { event: 'signal/video', payload: { selector: { id: 'lq', type: 'exact' }, auto: true } },
      {
        event: 'signal/request',
        payload: {
          video: { disabled: false, selector: { id: 'lq', type: 'exact' }, auto: true },
          audio: { disabled: false },
        },
      },
    ])
  })

  it('answers the server offer with the given ICE servers', async () => {
    const { signaling, sent } = setup()
    await signaling.handleProvide(provide('offer-sdp'))
    const pc = FakePeerConnection.last
    expect(pc.config.iceServers).toEqual([
      { urls: ['stun:stun.example.org:3478'] },
      { urls: ['turn:turn.example.org'], username: 'u', credential: 'p' },
    ])
    expect(pc.calls).toEqual([
      'setRemoteDescription:offer',
      'createAnswer',
      'setLocalDescription:answer',
    ])
    expect(sent).toEqual([{ event: 'signal/answer', payload: { sdp: 'answer-to:offer-sdp' } }])
    expect(signaling.video).toEqual({ disabled: false, id: 'hd', video: 'hd', auto: false })
  })

  it('buffers candidates that arrive before signal/provide', async () => {
    const { signaling } = setup()
    signaling.handleCandidate(cand(1))
    signaling.handleCandidate(cand(2))
    expect(signaling.pendingCandidates).toBe(2)
    await signaling.handleProvide(provide())
    const pc = FakePeerConnection.last
    expect(pc.calls.slice(0, 3)).toEqual([
      'setRemoteDescription:offer',
      `addIceCandidate:${cand(1).candidate}`,
      `addIceCandidate:${cand(2).candidate}`,
    ])
    expect(pc.candidates[0]).toEqual(cand(1))
    expect(signaling.pendingCandidates).toBe(0)
  })

  it('buffers candidates while the remote description is being applied', async () => {
    const { signaling, sent } = setup()
    FakePeerConnection.holdRemote = true
    try {
      const done = signaling.handleProvide(provide())
      await flushPromises()
      const pc = FakePeerConnection.last
      signaling.handleCandidate(cand(3))
      expect(pc.candidates).toEqual([]) // would throw on a real peer connection
      pc.releaseRemote()
      await done
      expect(pc.candidates).toEqual([cand(3)])
      expect(sent.map((s) => s.event)).toEqual(['signal/answer'])
      // later candidates are applied directly
      signaling.handleCandidate(cand(4))
      await flushPromises()
      expect(pc.candidates).toEqual([cand(3), cand(4)])
    } finally {
      FakePeerConnection.holdRemote = false
    }
  })

  it('sends local candidates as signal/candidate (candidate.toJSON())', async () => {
    const { signaling, sent } = setup()
    await signaling.handleProvide(provide())
    const pc = FakePeerConnection.last
    pc.emitCandidate({
      candidate: 'candidate:9 1 udp 1 192.168.1.2 40000 typ host',
      sdpMid: '0',
      sdpMLineIndex: 0,
      usernameFragment: 'xyz',
    })
    pc.emitCandidate({ candidate: '', sdpMid: '0', sdpMLineIndex: 0 }) // end marker
    pc.emitCandidate(null)
    expect(sent.filter((s) => s.event === 'signal/candidate')).toEqual([
      {
        event: 'signal/candidate',
        payload: {
          candidate: 'candidate:9 1 udp 1 192.168.1.2 40000 typ host',
          sdpMid: '0',
          sdpMLineIndex: 0,
          usernameFragment: 'xyz',
        },
      },
    ])
  })

  it('collects audio and video tracks in one stream', async () => {
    const { signaling } = setup()
    const streams: unknown[] = []
    signaling.events.on('track', ({ stream }) => streams.push(stream))
    await signaling.handleProvide(provide())
    const pc = FakePeerConnection.last
    const v = pc.emitTrack('video')
    const a = pc.emitTrack('audio')
    expect(streams).toHaveLength(2)
    expect(streams[0]).toBe(streams[1])
    const stream = streams[0] as FakeMediaStream
    expect(stream.getTracks()).toEqual([v, a])
    // a renegotiated video track replaces the old one
    const v2 = pc.emitTrack('video')
    expect(stream.getTracks()).toEqual([a, v2])
  })

  it('answers ICE-restart offers on the existing peer', async () => {
    const { signaling, sent } = setup()
    await signaling.handleProvide(provide('offer-1'))
    const pc = FakePeerConnection.last
    await signaling.handleOffer('offer-restart')
    expect(FakePeerConnection.instances).toHaveLength(1)
    expect(pc.remoteDescription).toEqual({ type: 'offer', sdp: 'offer-restart' })
    expect(sent.map((s) => s.payload)).toEqual([
      { sdp: 'answer-to:offer-1' },
      { sdp: 'answer-to:offer-restart' },
    ])
  })

  it('ignores restart offers without a peer', async () => {
    const { signaling, sent } = setup()
    await signaling.handleOffer('x')
    expect(sent).toEqual([])
  })

  it('close() tears down the peer and drops pending candidates', async () => {
    const { signaling, states } = setup()
    await signaling.handleProvide(provide())
    const pc = FakePeerConnection.last
    pc.setState('connecting')
    pc.setState('connected')
    signaling.close()
    expect(pc.closed).toBe(true)
    expect(signaling.peer).toBeNull()
    signaling.handleCandidate(cand(5))
    signaling.close()
    expect(signaling.pendingCandidates).toBe(0)
    expect(states).toEqual(['new', 'connecting', 'connected', 'idle'])
  })

  it('a new signal/provide replaces the previous peer', async () => {
    const { signaling } = setup()
    await signaling.handleProvide(provide('a'))
    const first = FakePeerConnection.last
    await signaling.handleProvide(provide('b'))
    expect(first.closed).toBe(true)
    expect(FakePeerConnection.instances).toHaveLength(2)
    expect(FakePeerConnection.last.remoteDescription?.sdp).toBe('b')
  })

  it('does not answer an offer whose peer was closed meanwhile', async () => {
    const { signaling, sent } = setup()
    FakePeerConnection.holdRemote = true
    try {
      const done = signaling.handleProvide(provide())
      await flushPromises()
      signaling.close()
      FakePeerConnection.last.releaseRemote()
      await done
      expect(sent).toEqual([])
    } finally {
      FakePeerConnection.holdRemote = false
    }
  })

  it('reports failed connections', async () => {
    const { signaling, states } = setup()
    await signaling.handleProvide(provide())
    FakePeerConnection.last.setState('failed')
    expect(states.at(-1)).toBe('failed')
  })
})

describe('toRtcIceServers', () => {
  it('drops empty entries and optional fields', () => {
    expect(
      toRtcIceServers([
        { urls: [] },
        { urls: ['stun:a'], username: '', credential: '' },
        { urls: ['turn:b'], username: 'x', credential: 'y' },
      ]),
    ).toEqual([{ urls: ['stun:a'] }, { urls: ['turn:b'], username: 'x', credential: 'y' }])
    expect(toRtcIceServers(null)).toEqual([])
  })
})

describe('Signaling data channel', () => {
  async function withChannel() {
    const ctx = setup()
    const channel: boolean[] = []
    const data: ArrayBuffer[] = []
    ctx.signaling.events.on('channel', (open) => channel.push(open))
    ctx.signaling.events.on('data', (d) => data.push(d))
    await ctx.signaling.handleProvide(provide())
    const pc = FakePeerConnection.last
    const dc = pc.emitDataChannel()
    return { ...ctx, pc, dc, channel, data }
  }

  it('accepts the server channel as arraybuffer and forwards binary messages', async () => {
    const { signaling, dc, channel, data } = await withChannel()
    expect(dc.binaryType).toBe('arraybuffer')
    expect(signaling.channelOpen).toBe(false)
    expect(signaling.sendData(new ArrayBuffer(1))).toBe(false)
    dc.open()
    expect(channel).toEqual([true])
    expect(signaling.channelOpen).toBe(true)

    const buf = new Uint8Array([1, 0, 7, 0, 1, 0, 2]).buffer
    dc.receive(buf)
    dc.receive(new Uint8Array([9, 1, 2, 3]).subarray(1)) // a view: copied out
    dc.receive('text is ignored')
    expect(data).toHaveLength(2)
    expect(data[0]).toBe(buf)
    expect([...new Uint8Array(data[1])]).toEqual([1, 2, 3])

    const ping = new ArrayBuffer(11)
    expect(signaling.sendData(ping)).toBe(true)
    expect(dc.sent).toEqual([ping])
  })

  it('reports a channel that is already open when offered', async () => {
    const { channel } = await (async () => {
      const ctx = setup()
      const channel: boolean[] = []
      ctx.signaling.events.on('channel', (open) => channel.push(open))
      await ctx.signaling.handleProvide(provide())
      const dc = new FakeDataChannel()
      dc.readyState = 'open'
      FakePeerConnection.last.emitDataChannel(dc)
      return { channel }
    })()
    expect(channel).toEqual([true])
  })

  it('reports the remote close and stops sending', async () => {
    const { signaling, dc, channel } = await withChannel()
    dc.open()
    dc.remoteClose()
    expect(channel).toEqual([true, false])
    expect(signaling.channelOpen).toBe(false)
    expect(signaling.sendData(new ArrayBuffer(1))).toBe(false)
  })

  it('closes and detaches the channel with the peer', async () => {
    const { signaling, dc, channel, data } = await withChannel()
    dc.open()
    signaling.close()
    expect(dc.closed).toBe(true)
    expect(channel).toEqual([true, false])
    expect(dc.onmessage).toBeNull()
    expect(data).toEqual([])
  })

  it('ignores channels of a replaced peer', async () => {
    const { signaling, pc, channel } = await withChannel()
    await signaling.handleProvide(provide('offer-2'))
    const stale = new FakeDataChannel()
    pc.ondatachannel?.({ channel: stale }) // handler was removed on teardown
    expect(stale.binaryType).toBe('blob')
    expect(channel).toEqual([])
  })
})
