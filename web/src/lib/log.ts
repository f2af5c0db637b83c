export interface Logger {
  debug(...args: unknown[]): void
  warn(...args: unknown[]): void
  error(...args: unknown[]): void
}

export const consoleLogger: Logger = {
  debug: (...args) => console.debug('[neko]', ...args),
  warn: (...args) => console.warn('[neko]', ...args),
  error: (...args) => console.error('[neko]', ...args),
}

export const silentLogger: Logger = {
  debug: () => {},
  warn: () => {},
  error: () => {},
}
