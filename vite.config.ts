import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/** The renderer: React + TSX through esbuild (no plugin needed), relative base for app:// and http. */
export default defineConfig({
  root: fileURLToPath(new URL('./renderer', import.meta.url)),
  base: './',
  esbuild: { jsx: 'automatic' },
  worker: { format: 'es' },
  build: {
    outDir: fileURLToPath(new URL('./dist/renderer', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 2000,
    rollupOptions: {
      // zod ships /*@__PURE__*/ comments where rollup cannot use them: harmless, and loud
      onwarn: (w, warn) => (w.code === 'INVALID_ANNOTATION' ? undefined : warn(w)),
    },
  },
});
