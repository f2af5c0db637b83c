// REST client for `api/*`. All URLs are relative to the page's directory so
// the client keeps working when the server is mounted below a path prefix.

import type { SessionData } from './protocol'

export const TOKEN_STORAGE_KEY = 'neko_token'

export interface StorageLike {
  getItem(key: string): string | null
  setItem(key: string, value: string): void
  removeItem(key: string): void
}

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>

export class ApiError extends Error {
  readonly status: number

  constructor(status: number, message: string) {
    super(message)
    this.name = 'ApiError'
    this.status = status
  }
}

/** Directory part of a path: `/neko/index.html` → `/neko/`, `/a/b` → `/a/`. */
export function basePath(pathname: string): string {
  const dir = pathname.replace(/[^/]*$/, '')
  return dir.startsWith('/') ? dir : `/${dir}`
}

/** `ws:`/`wss:` URL of `api/ws` for a page location (plus `?token=`). */
export function webSocketUrl(
  location: { protocol: string; host: string; pathname: string },
  token?: string | null,
): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:'
  const url = `${scheme}//${location.host}${basePath(location.pathname)}api/ws`
  return token ? `${url}?token=${encodeURIComponent(token)}` : url
}

function memoryStorage(): StorageLike {
  const data = new Map<string, string>()
  return {
    getItem: (key) => data.get(key) ?? null,
    setItem: (key, value) => void data.set(key, value),
    removeItem: (key) => void data.delete(key),
  }
}

function defaultStorage(): StorageLike {
  try {
    if (typeof localStorage !== 'undefined') return localStorage
  } catch {
    // access to localStorage can throw (e.g. blocked third-party storage)
  }
  return memoryStorage()
}

export interface ApiOptions {
  /** Path prefix ending in `/`, e.g. `/` or `/neko/`. */
  base: string
  fetch?: FetchLike
  storage?: StorageLike
}

export class ApiClient {
  readonly base: string
  private readonly fetchImpl: FetchLike
  private readonly storage: StorageLike

  constructor(options: ApiOptions) {
    this.base = options.base.endsWith('/') ? options.base : `${options.base}/`
    this.fetchImpl = options.fetch ?? ((input, init) => fetch(input, init))
    this.storage = options.storage ?? defaultStorage()
  }

  /** Bearer token (only used when the server runs without cookies). */
  get token(): string | null {
    return this.storage.getItem(TOKEN_STORAGE_KEY)
  }

  set token(value: string | null) {
    if (value) this.storage.setItem(TOKEN_STORAGE_KEY, value)
    else this.storage.removeItem(TOKEN_STORAGE_KEY)
  }

  async login(username: string, password: string): Promise<SessionData> {
    const data = await this.request<SessionData>('POST', 'api/login', { username, password })
    // A token in the answer means cookies are disabled server-side.
    this.token = data.token ?? null
    return data
  }

  async logout(): Promise<void> {
    try {
      await this.request<unknown>('POST', 'api/logout')
    } finally {
      this.token = null
    }
  }

  /** The current session, or `null` when not logged in (401/403). */
  async whoami(): Promise<SessionData | null> {
    try {
      return await this.request<SessionData>('GET', 'api/whoami')
    } catch (err) {
      if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
        this.token = null
        return null
      }
      throw err
    }
  }

  async giveControl(sessionId: string): Promise<void> {
    await this.request<unknown>('POST', `api/room/control/give/${encodeURIComponent(sessionId)}`)
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json' }
    if (body !== undefined) headers['Content-Type'] = 'application/json'
    const token = this.token
    if (token) headers.Authorization = `Bearer ${token}`

    let res: Response
    try {
      res = await this.fetchImpl(this.base + path, {
        method,
        headers,
        credentials: 'same-origin',
        body: body === undefined ? undefined : JSON.stringify(body),
      })
    } catch (err) {
      throw new ApiError(0, `Cannot reach the server (${String(err)})`)
    }

    const text = await res.text()
    let json: unknown = null
    if (text) {
      try {
        json = JSON.parse(text)
      } catch {
        json = null
      }
    }
    if (!res.ok) {
      let message = `${res.status} ${res.statusText}`.trim()
      if (typeof json === 'object' && json !== null && 'message' in json) {
        const m = (json as { message: unknown }).message
        if (typeof m === 'string' && m) message = m
      } else if (text && text.length < 200) {
        message = text.trim()
      }
      throw new ApiError(res.status, message)
    }
    return json as T
  }
}
