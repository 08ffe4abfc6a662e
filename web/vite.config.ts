// Vite builds the UI for /ui/ (served by the sawmill binary, docs/ui.md). `npm run dev` serves
// it with hot reload and sends the API to a server on 127.0.0.1:9640.
import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';

export default defineConfig({
  base: '/ui/',
  plugins: [preact()],
  build: {
    target: 'es2022',
    sourcemap: false,
    chunkSizeWarningLimit: 1024,
  },
  server: {
    proxy: {
      '/api': { target: 'http://127.0.0.1:9640', ws: true },
      '/metrics': 'http://127.0.0.1:9640',
    },
  },
});
