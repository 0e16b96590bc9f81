// Statuses in words: tunnel states as the tray shows them (the same five), and the statuses
// MWAA gives an environment.

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

/** How an MWAA status reads: ready, at work, failed, or gone. */
export type EnvironmentTone = "ok" | "busy" | "failed" | "gone";

/** Every status MWAA gives an environment, in words, with its tone. */
export const ENVIRONMENT_STATUS: Record<string, { words: string; tone: EnvironmentTone }> = {
  AVAILABLE: { words: "Available", tone: "ok" },
  CREATING: { words: "Creating", tone: "busy" },
  CREATING_SNAPSHOT: { words: "Creating snapshot", tone: "busy" },
  UPDATING: { words: "Updating", tone: "busy" },
  PENDING: { words: "Pending", tone: "busy" },
  MAINTENANCE: { words: "Maintenance", tone: "busy" },
  ROLLING_BACK: { words: "Rolling back", tone: "busy" },
  DELETING: { words: "Deleting", tone: "busy" },
  CREATE_FAILED: { words: "Create failed", tone: "failed" },
  UPDATE_FAILED: { words: "Update failed", tone: "failed" },
  UNAVAILABLE: { words: "Unavailable", tone: "failed" },
  DELETED: { words: "Deleted", tone: "gone" },
};

/** An MWAA status in words ("ROLLING_BACK": "Rolling back"; one MWAA adds later: the same way). */
export function environmentStatus(status: string): { words: string; tone: EnvironmentTone } {
  const known = ENVIRONMENT_STATUS[status];
  if (known) return known;
  const words = status.toLowerCase().replace(/_/g, " ");
  return { words: words.charAt(0).toUpperCase() + words.slice(1), tone: "busy" };
}
