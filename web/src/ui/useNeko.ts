// Mirrors the lib's typed NekoClient events into Vue refs.

import { computed, onBeforeUnmount, ref, shallowRef } from 'vue'
import type {
  ConnectionStatus,
  ControlRequestNotice,
  CursorImage,
  DisconnectInfo,
  InactiveCursor,
  MediaStreamLike,
  NekoClient,
  PeerState,
  Point,
  ScreenSize,
  SessionInfo,
  SignalVideo,
} from '../lib'

export function useNeko(client: NekoClient, onDisconnected: (info: DisconnectInfo) => void) {
  const status = ref<ConnectionStatus>(client.status)
  const sessionId = ref<string | null>(client.sessionId)
  const sessions = shallowRef<SessionInfo[]>([])
  const hostId = ref<string | null>(client.hostId)
  const isHost = ref(client.isHost)
  const screen = ref<ScreenSize>({ ...client.screenSize })
  const stream = shallowRef<MediaStreamLike | null>(null)
  /** Bumped on every added track (the stream object stays the same). */
  const streamVersion = ref(0)
  const peer = ref<PeerState>('idle')
  const requests = ref<ControlRequestNotice[]>([])
  const cursorImage = shallowRef<CursorImage | null>(client.cursorImage)
  /** The remote pointer (remote screen pixels); null while unknown. */
  const cursorPosition = shallowRef<Point | null>(client.cursorPosition)
  /** Data channel round-trip time (ms), null until measured. */
  const rtt = ref<number | null>(client.rtt)
  /** The qualities the server offers, and the one we receive. */
  const videos = ref<string[]>([...client.videos])
  const video = shallowRef<SignalVideo | null>(client.video)
  /** Other sessions' pointers (inactive cursors). */
  const inactiveCursors = shallowRef<readonly InactiveCursor[]>(client.inactiveCursors)
  /** Private mode keeps the media from us (we are not an admin). */
  const privateMode = ref(client.privateMode)
  const syncPrivate = () => (privateMode.value = client.privateMode)

  const me = computed(() => sessions.value.find((s) => s.id === sessionId.value) ?? null)
  const canHost = computed(() => me.value?.profile.can_host ?? false)
  const hostName = computed(() => {
    if (!hostId.value) return ''
    return sessions.value.find((s) => s.id === hostId.value)?.profile.name || 'Someone'
  })
  const members = computed(() =>
    sessions.value
      .filter((s) => s.state.is_connected || s.id === sessionId.value)
      .sort((a, b) => a.profile.name.localeCompare(b.profile.name)),
  )

  const offs = [
    client.events.on('status', (s) => (status.value = s)),
    client.events.on('init', (p) => {
      sessionId.value = p.session_id
      requests.value = []
      videos.value = [...(p.webrtc?.videos ?? [])]
    }),
    client.events.on('video', (v) => (video.value = { ...v })),
    client.events.on('sessions', (map) => {
      sessions.value = [...map.values()]
      syncPrivate()
    }),
    client.events.on('settings', syncPrivate),
    client.events.on('host', (h) => {
      hostId.value = h.hostId
      isHost.value = h.isHost
      if (!h.isHost) requests.value = []
    }),
    client.events.on('screen', (s) => (screen.value = { ...s })),
    client.events.on('stream', (s) => {
      stream.value = s
      streamVersion.value++
    }),
    client.events.on('peer', (p) => {
      peer.value = p
      if (p === 'idle') {
        stream.value = null
        cursorPosition.value = null
      }
    }),
    client.events.on('dataChannel', (open) => {
      if (!open) cursorPosition.value = null
    }),
    client.events.on('cursorImage', (c) => (cursorImage.value = c)),
    client.events.on('cursorPosition', (p) => (cursorPosition.value = p)),
    client.events.on('rtt', (ms) => (rtt.value = ms)),
    client.events.on('inactiveCursors', (list) => (inactiveCursors.value = list)),
    client.events.on('controlRequest', (r) => {
      requests.value = [...requests.value.filter((x) => x.id !== r.id), r]
    }),
    client.events.on('disconnected', (info) => onDisconnected(info)),
  ]

  onBeforeUnmount(() => offs.forEach((off) => off()))

  function dismissRequest(id: string): void {
    requests.value = requests.value.filter((r) => r.id !== id)
  }

  return {
    status,
    sessionId,
    sessions,
    members,
    me,
    canHost,
    hostId,
    hostName,
    isHost,
    screen,
    stream,
    streamVersion,
    peer,
    requests,
    cursorImage,
    cursorPosition,
    inactiveCursors,
    privateMode,
    rtt,
    videos,
    video,
    dismissRequest,
  }
}
