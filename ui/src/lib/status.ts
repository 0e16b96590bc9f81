// Tunnel states as the tray shows them: the same five, with the same words.

import type { TunnelState } from "../ipc";
import type { Status } from "./components/StatusIcon.svelte";

export function statusOf(tunnel: TunnelState): Status {
  switch (tunnel.state) {
    case "connecting":
      return "connecting";
    case "connected":
      return "connected";
    case "reconnecting":
      return "reconnecting";
    case "failed":
      return "error";
    default:
      return "idle";
  }
}

/** What all the tunnels add up to: a failure first, then reconnecting, connecting, connected. */
export function overallStatus(tunnels: TunnelState[]): Status {
  const all = tunnels.map(statusOf);
  for (const s of ["error", "reconnecting", "connecting", "connected"] as const) {
    if (all.includes(s)) return s;
  }
  return "idle";
}

export const STATUS_WORDS: Record<Status, string> = {
  idle: "No tunnel",
  connecting: "Connecting",
  connected: "Connected",
  reconnecting: "Reconnecting",
  error: "Failed",
};
