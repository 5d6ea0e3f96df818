import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// `npm run dev:storefront`: Vite on its own origin (http://localhost:5173, hot reload) against the gateway named by
// VITE_GATEWAY_URL, across origins (CORS + cookie sessions). Image URLs and signed uploads are built on PUBLIC_URL
// (this origin then), so `/media` is proxied to the gateway. `npm start` builds into dist/ and the gateway serves it
// at / (same origin: VITE_GATEWAY_URL unset).
const gateway = process.env.VITE_GATEWAY_URL;

export default defineConfig({
  plugins: [react()],
  server: {
    port: 5173,
    strictPort: true,
    host: 'localhost',
    proxy: gateway ? { '/media': { target: gateway, changeOrigin: false } } : undefined,
  },
  build: { outDir: 'dist', sourcemap: true },
});
