import { defineConfig } from 'vitest/config'
import vue from '@vitejs/plugin-vue'

// The Go server embeds web/dist and serves it at `/` (or below a path prefix),
// so every asset URL must be relative.
export default defineConfig({
  base: './',
  plugins: [vue()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
  },
  server: {
    // `npm run dev` against a locally running server: NEKO_DEV_SERVER=http://127.0.0.1:8080
    proxy: process.env.NEKO_DEV_SERVER
      ? {
          '/api': {
            target: process.env.NEKO_DEV_SERVER,
            ws: true,
            changeOrigin: true,
          },
        }
      : undefined,
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
})
