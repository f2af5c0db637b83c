import { describe, expect, it } from 'vitest'
import {
  ApiClient,
  ApiError,
  TOKEN_STORAGE_KEY,
  basePath,
  webSocketUrl,
  type StorageLike,
} from './api'

function memory(): StorageLike & { data: Map<string, string> } {
  const data = new Map<string, string>()
  return {
    data,
    getItem: (k) => data.get(k) ?? null,
    setItem: (k, v) => void data.set(k, v),
    removeItem: (k) => void data.delete(k),
  }
}

interface Call {
  url: string
  init?: RequestInit
}

function fakeFetch(responses: Response[]) {
  const calls: Call[] = []
  const fetch = async (url: string, init?: RequestInit) => {
    calls.push({ url, init })
    const res = responses.shift()
    if (!res) throw new Error('no response left')
    return res
  }
  return { fetch, calls }
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } })

const session = {
  id: 's1',
  profile: { name: 'alice', is_admin: true, can_host: true },
  state: { is_connected: false, is_watching: false },
}

describe('basePath / webSocketUrl', () => {
  it('derives the base directory from the page path', () => {
    expect(basePath('/')).toBe('/')
    expect(basePath('/index.html')).toBe('/')
    expect(basePath('/neko/')).toBe('/neko/')
    expect(basePath('/a/b/index.html')).toBe('/a/b/')
    expect(basePath('/neko')).toBe('/')
  })

  it('builds ws/wss URLs below the prefix', () => {
    expect(webSocketUrl({ protocol: 'http:', host: 'h:8080', pathname: '/' })).toBe(
      'ws://h:8080/api/ws',
    )
    expect(webSocketUrl({ protocol: 'https:', host: 'h', pathname: '/x/' }, 'a b')).toBe(
      'wss://h/x/api/ws?token=a%20b',
    )
  })
})

describe('ApiClient', () => {
  it('logs in with a relative URL and a JSON body', async () => {
    const { fetch, calls } = fakeFetch([json(200, session)])
    const api = new ApiClient({ base: '/neko/', fetch, storage: memory() })
    const data = await api.login('alice', 'secret')
    expect(data.id).toBe('s1')
    expect(calls[0].url).toBe('/neko/api/login')
    expect(calls[0].init?.method).toBe('POST')
    expect(JSON.parse(String(calls[0].init?.body))).toEqual({
      username: 'alice',
      password: 'secret',
    })
    expect(api.token).toBeNull()
  })

  it('stores a returned token and sends it as bearer', async () => {
    const storage = memory()
    const { fetch, calls } = fakeFetch([
      json(200, { ...session, token: 'tok' }),
      json(200, session),
    ])
    const api = new ApiClient({ base: '/', fetch, storage })
    await api.login('alice', 'secret')
    expect(storage.data.get(TOKEN_STORAGE_KEY)).toBe('tok')
    await api.whoami()
    const headers = calls[1].init?.headers as Record<string, string>
    expect(headers.Authorization).toBe('Bearer tok')
  })

  it('reports the server error message', async () => {
    const { fetch } = fakeFetch([json(401, { message: 'wrong password' })])
    const api = new ApiClient({ base: '/', fetch, storage: memory() })
    const err = await api.login('a', 'b').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ApiError)
    expect((err as ApiError).status).toBe(401)
    expect((err as ApiError).message).toBe('wrong password')
  })

  it('whoami returns null on 401 and forgets the token', async () => {
    const storage = memory()
    storage.setItem(TOKEN_STORAGE_KEY, 'old')
    const { fetch } = fakeFetch([json(401, { message: 'no' })])
    const api = new ApiClient({ base: '/', fetch, storage })
    expect(await api.whoami()).toBeNull()
    expect(api.token).toBeNull()
  })

  it('logout clears the token even when the request fails', async () => {
    const storage = memory()
    storage.setItem(TOKEN_STORAGE_KEY, 'old')
    const { fetch } = fakeFetch([json(500, { message: 'oops' })])
    const api = new ApiClient({ base: '/', fetch, storage })
    await expect(api.logout()).rejects.toThrow('oops')
    expect(api.token).toBeNull()
  })

  it('posts control give requests', async () => {
    const { fetch, calls } = fakeFetch([new Response(null, { status: 204 })])
    const api = new ApiClient({ base: '/', fetch, storage: memory() })
    await api.giveControl('abc')
    expect(calls[0].url).toBe('/api/room/control/give/abc')
    expect(calls[0].init?.method).toBe('POST')
  })
})
