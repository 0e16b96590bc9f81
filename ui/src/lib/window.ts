// The window itself, as the keyboard shortcuts drive it.

import { commands } from "../ipc";
import { store } from "./store.svelte";

/** Hides the window; Airgate keeps running in the tray with its tunnels (Ctrl/Cmd+W). */
export async function closeToTray(): Promise<void> {
  const res = await commands.answerClose(true, false);
  if (res.status === "error") store.loadError = res.error;
}
