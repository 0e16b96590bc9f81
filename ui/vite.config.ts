import { svelte } from "@sveltejs/vite-plugin-svelte";
import { defineConfig } from "vite";

// The desktop shell embeds `dist/` (src-tauri/tauri.conf.json: frontendDist).
export default defineConfig({
  plugins: [svelte()],
  clearScreen: false,
  server: { host: "127.0.0.1", port: 5173, strictPort: true },
  build: {
    target: "safari16",
    outDir: "dist",
    emptyOutDir: true,
    // No inline scripts or styles: the CSP allows only 'self'.
    assetsInlineLimit: 0,
    cssCodeSplit: false,
  },
});
