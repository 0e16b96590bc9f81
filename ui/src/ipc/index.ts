// The UI's only door to the desktop shell. Everything else imports from here, never from
// `@tauri-apps/api` or `./bindings` directly.

import type { EnvironmentRef } from "./bindings";

// What the shell sends (the `_Serialize` side of each type).
export type {
  AccessMode,
  AirflowMajor,
  BastionExport,
  BastionKey,
  BastionRecord,
  Browser,
  CloseBehavior,
  ConnectionRecord,
  ConnectionsPrefix,
  ConnImport,
  ConnPush,
  Copied,
  Discovery_Serialize as Discovery,
  EndpointManagement,
  Environment_Serialize as Environment,
  EnvironmentRef,
  ErrorCode,
  FailureKind,
  Identity,
  IpcError,
  KeyKind,
  KeyPassphrase,
  KeyRecord,
  LastUpdate_Serialize as LastUpdate,
  OpenOutcome_Serialize as OpenOutcome,
  OpenProgress,
  OpenSettings_Serialize as OpenSettings,
  OpenStep,
  PrefixSource,
  Pushed,
  SelfHostedRecord,
  ServeRule,
  SettingsView_Serialize as SettingsView,
  SourceFailure_Serialize as SourceFailure,
  SourceFound_Serialize as SourceFound,
  SshHost,
  SshImport,
  StepState,
  TokenRecord,
  TrayState,
  TrayView,
  TunnelEvent,
  TunnelState,
  TunnelStats,
  UnknownHostKey,
  Written,
} from "./bindings";
export { commands, events } from "./bindings";

/** The tunnel id the shell uses for an environment: `"{profile}/{region}/{name}"`. */
export function tunnelId(env: EnvironmentRef): string {
  return `${env.profile}/${env.region}/${env.name}`;
}

/** The tunnel id of a self-hosted Airflow: `"self-hosted/{name}"` (names never hold "/"). */
export function selfHostedId(name: string): string {
  return `self-hosted/${name}`;
}

/** The SOCKS proxy URL of a tunnel (remote DNS: the bastion resolves `-vpce` hostnames). */
export function socksUrl(port: number): string {
  return `socks5h://127.0.0.1:${port}`;
}
