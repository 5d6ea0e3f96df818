import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// `npm run dev:storefront`: Vite on its own origin (http://localhost:5173) against the gateway (VITE_GATEWAY_URL,
// default http://localhost:4000), which exercises CORS and cookie sessions. `npm start` builds into dist/ and the
// gateway serves it at / (same origin: VITE_GATEWAY_URL unset).
export default defineConfig({
  plugins: [react()],
  server: { port: 5173, strictPort: true, host: 'localhost' },
  build: { outDir: 'dist', sourcemap: true },
});
