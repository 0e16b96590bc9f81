// The window's keyboard shortcuts: one table, matched in `desktop.ts`, shown in tooltips.

export const isMac = /Mac|iPhone|iPad/.test(navigator.userAgent);

export type Shortcut = { key: string; label: string };

/** Cmd on macOS, Ctrl elsewhere, plus `key`. */
export const SHORTCUTS = {
  refresh: { key: "r", label: "Refresh the environments" },
  settings: { key: ",", label: "Settings" },
  close: { key: "w", label: "Close the window (Airgate stays in the tray)" },
  palette: { key: "k", label: "Go to an environment" },
} satisfies Record<string, Shortcut>;

export type ShortcutName = keyof typeof SHORTCUTS;

/** "Ctrl+R", or "⌘R" on macOS. */
export function keysOf(name: ShortcutName): string {
  const key = SHORTCUTS[name].key.toUpperCase();
  return isMac ? `⌘${key}` : `Ctrl+${key}`;
}

/** A tooltip naming the shortcut: "Refresh (Ctrl+R)". */
export function withKeys(title: string, name: ShortcutName): string {
  return `${title} (${keysOf(name)})`;
}

/** The shortcut `event` presses, if any (the command key alone, no Alt). */
export function shortcutOf(event: KeyboardEvent): ShortcutName | null {
  const mod = isMac ? event.metaKey && !event.ctrlKey : event.ctrlKey && !event.metaKey;
  if (!mod || event.altKey) return null;
  const key = event.key.toLowerCase();
  for (const [name, s] of Object.entries(SHORTCUTS)) {
    if (s.key === key) return name as ShortcutName;
  }
  return null;
}
