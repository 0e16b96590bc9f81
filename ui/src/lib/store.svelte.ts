// What the window knows: environments, saved bastions, tunnels. Filled through `ipc/`.

import {
  type BastionRecord,
  commands,
  type Discovery,
  type Environment,
  type EnvironmentRef,
  events,
  type IpcError,
  type KeyKind,
  type KeyPassphrase,
  type KeyRecord,
  type OpenOutcome,
  type OpenStep,
  type SelfHostedRecord,
  type SourceFound,
  type StepState,
  selfHostedId,
  type TrayView,
  type TunnelState,
  tunnelId,
  type UnknownHostKey,
} from "../ipc";

export type Section = "environments" | "tunnels" | "keys" | "bastions" | "connections" | "settings";

/** A stored key needs its passphrase, and what to do again once the user gave it. */
export type PassphraseAsk = {
  ask: KeyPassphrase;
  retry: () => Promise<void>;
};

/** A host key to ask about, and what to do again once the user answered. */
export type HostKeyAsk = {
  key: UnknownHostKey;
  /** Runs the action again, trusting `fingerprint` for this tunnel only (or none: known now). */
  retry: (trustOnce: string | null) => Promise<void>;
};

/** The steps of Open, in the order they run. */
export const OPEN_STEPS: OpenStep[] = ["route", "token", "browser"];

/** One Open of one environment, as the window shows it. */
export type OpenRun = {
  steps: Partial<Record<OpenStep, StepState>>;
  busy: boolean;
  outcome: OpenOutcome | null;
  error: IpcError | null;
};

function envRef(env: EnvironmentRef): EnvironmentRef {
  return { profile: env.profile, region: env.region, name: env.name };
}

class Store {
  section = $state<Section>("environments");

  discovery = $state<Discovery | null>(null);
  /** A running IAM Identity Center sign-in, by profile: the code to approve, then the outcome. */
  signIns = $state<
    Record<string, { code: string | null; url: string | null; error: string | null; busy: boolean }>
  >({});

  /** When the shown list was cached (ms since the epoch); null once a listing has answered. */
  cachedAt = $state<number | null>(null);
  loading = $state(false);
  loadError = $state<IpcError | null>(null);

  bastions = $state<BastionRecord[]>([]);
  bastionsError = $state<IpcError | null>(null);

  /** The bastion that serves each environment by its rules, by environment id. */
  preferredBastions = $state<Record<string, string>>({});

  /** Stored SSH keys: names, fingerprints, public keys; never their text. */
  keys = $state<KeyRecord[]>([]);
  keysError = $state<IpcError | null>(null);

  /** A stored key needs its passphrase: the window asks for it. */
  passphraseAsk = $state<PassphraseAsk | null>(null);

  /** Favourite environments (tunnel ids), kept in the tray's menu. */
  favourites = $state<string[]>([]);

  /** Self-hosted Airflow web servers added by hand. */
  selfHosted = $state<SelfHostedRecord[]>([]);

  /** Tunnel states by tunnel id, from the shell's events and answers. */
  tunnels = $state<Record<string, TunnelState>>({});
  tray = $state<TrayView | null>(null);

  /** A bastion presented an unknown host key: the window asks whether to trust it. */
  hostKeyAsk = $state<HostKeyAsk | null>(null);

  /** The close button was pressed and the user has not said yet what it should do. */
  closeAsked = $state(false);

  /** The last Open of each environment, by tunnel id. */
  opens = $state<Record<string, OpenRun>>({});

  running = $derived(
    Object.entries(this.tunnels).filter(([, s]) => s.state === "connected") as [
      string,
      Extract<TunnelState, { state: "connected" }>,
    ][],
  );

  async start(): Promise<void> {
    // The last list at once, while the fresh one is asked for.
    const cached = await commands.cachedEnvironments();
    if (cached.status === "ok" && cached.data && !this.discovery) {
      this.discovery = {
        environments: cached.data.environments,
        failures: [],
        identities: cached.data.identities,
      };
      this.cachedAt = cached.data.savedAtMs;
    }
    await events.environmentsFound.listen((e) => this.found(e.payload));
    await events.ssoCodeShown.listen((e) => {
      const { profile, userCode, url } = e.payload;
      const run = this.signIns[profile];
      if (run) this.signIns = { ...this.signIns, [profile]: { ...run, code: userCode, url } };
    });
    // The fresh listing starts now: it is the slow part.
    const listing = this.refresh();
    const every = await commands.refreshInterval();
    this.scheduleRefresh(every.status === "ok" ? every.data : null);
    await events.tunnelChanged.listen((e) => this.setTunnel(e.payload.id, e.payload.state));
    await events.openProgressed.listen((e) => {
      const { id, step, state } = e.payload;
      const run = this.opens[id] ?? { steps: {}, busy: true, outcome: null, error: null };
      this.opens = { ...this.opens, [id]: { ...run, steps: { ...run.steps, [step]: state } } };
    });
    await events.windowCloseAsked.listen(() => {
      this.closeAsked = true;
    });
    await events.trayChanged.listen((e) => {
      this.tray = e.payload;
    });
    const states = await commands.tunnelStates();
    if (states.status === "ok") {
      for (const t of states.data) this.setTunnel(t.id, t.state);
    }
    this.tray = await commands.trayStatus();
    const favourites = await commands.favourites();
    if (favourites.status === "ok") this.favourites = favourites.data;
    await Promise.all([listing, this.loadBastions(), this.loadSelfHosted(), this.loadKeys()]);
  }

  async loadKeys(): Promise<void> {
    const res = await commands.listKeys();
    if (res.status === "ok") {
      this.keys = res.data;
      this.keysError = null;
    } else {
      this.keysError = res.error;
    }
  }

  /** Imports the key file at `path`; returns the form's error, if any. */
  async importKey(
    path: string,
    name: string | null,
    passphrase: string | null,
    remember: boolean,
  ): Promise<IpcError | null> {
    const res = await commands.importKey(path, name, passphrase, remember);
    if (res.status === "error") return res.error;
    this.keys = res.data;
    return null;
  }

  /** Makes a new key; returns it, or the form's error. */
  async generateKey(
    name: string,
    kind: KeyKind,
    comment: string,
  ): Promise<{ key: KeyRecord } | { error: IpcError }> {
    const res = await commands.generateKey(name, kind, comment);
    if (res.status === "error") return { error: res.error };
    await this.loadKeys();
    return { key: res.data };
  }

  async renameKey(from: string, to: string): Promise<IpcError | null> {
    const res = await commands.renameKey(from, to);
    if (res.status === "error") return res.error;
    this.keys = res.data;
    await this.loadBastions();
    return null;
  }

  async deleteKey(name: string): Promise<IpcError | null> {
    const res = await commands.deleteKey(name);
    if (res.status === "error") return res.error;
    this.keys = res.data;
    return null;
  }

  async forgetPassphrase(name: string): Promise<IpcError | null> {
    const res = await commands.forgetKeyPassphrase(name);
    if (res.status === "error") return res.error;
    await this.loadKeys();
    return null;
  }

  /** Unlocks the asked key and runs again what needed it; returns the dialog's error. */
  async answerPassphrase(passphrase: string, remember: boolean): Promise<IpcError | null> {
    const ask = this.passphraseAsk;
    if (!ask) return null;
    const res = await commands.unlockKey(ask.ask.key, passphrase, remember);
    if (res.status === "error") return res.error;
    this.passphraseAsk = null;
    const again = ask.retry();
    await Promise.all([again, this.loadKeys()]);
    return null;
  }

  dismissPassphrase(): void {
    this.passphraseAsk = null;
  }

  /** Deletes the saved bastion `name`; returns the error to show, if any. */
  async deleteBastion(name: string): Promise<IpcError | null> {
    const res = await commands.deleteBastion(name);
    if (res.status === "error") return res.error;
    this.bastions = res.data;
    return null;
  }

  /** One source of a running listing answered: its rows (or its failure) replace what was
   * shown for it, while the other sources are still being asked. */
  found(source: SourceFound): void {
    if (!this.loading) return;
    const current = this.discovery ?? { environments: [], failures: [], identities: [] };
    const identity = source.identity;
    if (identity) {
      // Who a profile is: told on its own, its rows untouched.
      this.discovery = {
        ...current,
        identities: [...current.identities.filter((i) => i.profile !== identity.profile), identity],
      };
      return;
    }
    const same = (profile: string, region: string | null) =>
      profile === source.profile && (source.region === null || region === source.region);
    const others = current.environments.filter((e) => !same(e.profile, e.region));
    // An environment another profile already shows is listed once, as the shell lists it.
    const shown = new Set(others.map((e) => e.arn).filter((arn) => arn !== null));
    this.discovery = {
      ...current,
      environments: [
        ...others,
        ...source.environments.filter((e) => e.arn === null || !shown.has(e.arn)),
      ],
      failures: [
        // A region of the profile answering also ends what failed for the whole profile (its
        // sign-in, its MFA code): its credentials work now.
        ...current.failures.filter(
          (f) =>
            !same(f.profile, f.region) &&
            !(f.profile === source.profile && f.region === null && source.failure === null),
        ),
        ...(source.failure ? [source.failure] : []),
      ],
    };
  }

  /** Signs in `profile`'s IAM Identity Center session (the page opens in the browser; the code
   * to check there is shown meanwhile), then lists again: every profile of the session. */
  async signIn(profile: string): Promise<void> {
    this.signIns = {
      ...this.signIns,
      [profile]: { code: null, url: null, error: null, busy: true },
    };
    const res = await commands.ssoSignIn(profile);
    if (res.status === "error") {
      this.signIns = {
        ...this.signIns,
        [profile]: { code: null, url: null, error: res.error.message, busy: false },
      };
      return;
    }
    const { [profile]: _, ...rest } = this.signIns;
    this.signIns = rest;
    await this.refresh();
  }

  /** Gives the MFA `code` of `profile`'s role; then lists again. Returns why it failed, if it
   * did (a wrong or short code: the field says so). */
  async mfaSignIn(profile: string, code: string): Promise<string | null> {
    const res = await commands.mfaSignIn(profile, code);
    if (res.status === "error") return res.error.message;
    await this.refresh();
    return null;
  }

  private refreshTimer: ReturnType<typeof setInterval> | null = null;

  /** Lists the environments again every `secs` seconds (`null`: only when asked). */
  scheduleRefresh(secs: number | null): void {
    if (this.refreshTimer !== null) clearInterval(this.refreshTimer);
    this.refreshTimer = secs ? setInterval(() => void this.refresh(), secs * 1000) : null;
  }

  async refresh(): Promise<void> {
    if (this.loading) return;
    this.loading = true;
    this.loadError = null;
    try {
      const res = await commands.listEnvironments();
      if (res.status === "ok") {
        this.discovery = res.data;
        this.cachedAt = null;
      } else this.loadError = res.error;
      await this.loadPreferred();
    } finally {
      this.loading = false;
    }
  }

  async loadBastions(): Promise<void> {
    const res = await commands.listBastions();
    if (res.status === "ok") {
      this.bastions = res.data;
      this.bastionsError = null;
    } else {
      this.bastionsError = res.error;
    }
    await this.loadPreferred();
  }

  async loadPreferred(): Promise<void> {
    const res = await commands.preferredBastions();
    if (res.status === "ok") this.preferredBastions = res.data;
  }

  /** Saves a bastion (`replacing`: its name before an edit); returns the form's error, if any. */
  async saveBastion(
    bastion: BastionRecord,
    replacing: string | null = null,
  ): Promise<IpcError | null> {
    const res = await commands.saveBastion(bastion, replacing);
    if (res.status === "error") return res.error;
    this.bastions = res.data;
    this.bastionsError = null;
    await this.loadPreferred();
    return null;
  }

  async setFavourite(id: string, favourite: boolean): Promise<void> {
    const res = await commands.setFavourite(id, favourite);
    if (res.status === "ok") this.favourites = res.data;
    else this.loadError = res.error;
  }

  async loadSelfHosted(): Promise<void> {
    const res = await commands.listSelfHosted();
    if (res.status === "ok") this.selfHosted = res.data;
    else this.bastionsError = res.error;
  }

  /** Saves a self-hosted Airflow (`previous`: its name before an edit); returns the form's error. */
  async saveSelfHosted(
    airflow: SelfHostedRecord,
    previous: string | null,
  ): Promise<IpcError | null> {
    const res = await commands.saveSelfHosted(airflow, previous);
    if (res.status === "error") return res.error;
    this.selfHosted = res.data;
    return null;
  }

  async deleteSelfHosted(name: string): Promise<IpcError | null> {
    const res = await commands.deleteSelfHosted(name);
    if (res.status === "error") return res.error;
    this.selfHosted = res.data;
    this.setTunnel(selfHostedId(name), { state: "disconnected" });
    return null;
  }

  tunnelOfSelfHosted(name: string): TunnelState {
    return this.tunnels[selfHostedId(name)] ?? { state: "disconnected" };
  }

  async connectSelfHosted(name: string, trustOnce: string | null = null): Promise<void> {
    const id = selfHostedId(name);
    this.setTunnel(id, { state: "connecting" });
    const res = await commands.connectSelfHosted(name, trustOnce);
    if (res.status === "ok") this.setTunnel(id, { state: "connected", port: res.data });
    else {
      this.setTunnel(id, { state: "failed", reason: res.error.message });
      this.askHostKey(res.error, (trust) => this.connectSelfHosted(name, trust));
    }
  }

  async disconnectSelfHosted(name: string): Promise<void> {
    const id = selfHostedId(name);
    const res = await commands.disconnectSelfHosted(name);
    if (res.status === "ok") this.setTunnel(id, { state: "disconnected" });
    else this.setTunnel(id, { state: "failed", reason: res.error.message });
  }

  async openSelfHosted(name: string, trustOnce: string | null = null): Promise<void> {
    await this.runOpen(
      selfHostedId(name),
      () => commands.openSelfHosted(name, trustOnce),
      (trust) => this.openSelfHosted(name, trust),
    );
  }

  tunnelOf(env: Environment): TunnelState {
    return this.tunnels[tunnelId(env)] ?? { state: "disconnected" };
  }

  async connect(env: Environment, bastion: string, trustOnce: string | null = null): Promise<void> {
    const id = tunnelId(env);
    this.setTunnel(id, { state: "connecting" });
    const res = await commands.connectEnvironment(envRef(env), bastion, trustOnce);
    if (res.status === "ok") this.setTunnel(id, { state: "connected", port: res.data });
    else {
      this.setTunnel(id, { state: "failed", reason: res.error.message });
      this.askHostKey(res.error, (trust) => this.connect(env, bastion, trust));
    }
  }

  /** Asks what `error` needs from the user, if anything: to trust an unknown host key, or a
   * key's passphrase; then `retry` runs the action again. */
  private askHostKey(error: IpcError, retry: HostKeyAsk["retry"]): void {
    if (error.unknownHostKey) this.hostKeyAsk = { key: error.unknownHostKey, retry };
    if (error.keyPassphrase) {
      this.passphraseAsk = { ask: error.keyPassphrase, retry: () => retry(null) };
    }
  }

  /** Trusts the asked host key (always: written to Airgate's known_hosts) and tries again. */
  async answerHostKey(always: boolean): Promise<IpcError | null> {
    const ask = this.hostKeyAsk;
    if (!ask) return null;
    if (always) {
      const res = await commands.trustHostKey(ask.key.host, ask.key.port, ask.key.publicKey);
      if (res.status === "error") return res.error;
    }
    this.hostKeyAsk = null;
    await ask.retry(always ? null : ask.key.fingerprint);
    return null;
  }

  dismissHostKey(): void {
    this.hostKeyAsk = null;
  }

  openOf(env: EnvironmentRef): OpenRun | null {
    return this.opens[tunnelId(env)] ?? null;
  }

  openOfId(id: string): OpenRun | null {
    return this.opens[id] ?? null;
  }

  /** Opens the environment's Airflow UI; `bastion` starts its tunnel when it is not up. */
  async open(
    env: Environment,
    bastion: string | null,
    trustOnce: string | null = null,
  ): Promise<void> {
    await this.runOpen(
      tunnelId(env),
      () => commands.openEnvironment(envRef(env), bastion, trustOnce),
      (trust) => this.open(env, bastion, trust),
    );
  }

  private async runOpen(
    id: string,
    call: () => Promise<{ status: "ok"; data: OpenOutcome } | { status: "error"; error: IpcError }>,
    retry: HostKeyAsk["retry"],
  ): Promise<void> {
    if (this.opens[id]?.busy) return;
    this.opens = { ...this.opens, [id]: { steps: {}, busy: true, outcome: null, error: null } };
    const res = await call();
    const run = this.opens[id] ?? { steps: {}, busy: true, outcome: null, error: null };
    this.opens = {
      ...this.opens,
      [id]: {
        ...run,
        busy: false,
        outcome: res.status === "ok" ? res.data : null,
        error: res.status === "error" ? res.error : null,
      },
    };
    if (res.status === "error") this.askHostKey(res.error, retry);
  }

  /** Answers the close question: keep running in the tray (hide the window) or quit. */
  async answerClose(keepInTray: boolean, remember: boolean): Promise<IpcError | null> {
    const res = await commands.answerClose(keepInTray, remember);
    if (res.status === "error") return res.error;
    this.closeAsked = false;
    return null;
  }

  dismissOpen(id: string): void {
    const { [id]: _gone, ...rest } = this.opens;
    this.opens = rest;
  }

  /** Disconnects the tunnel `id`, whatever it serves. */
  async disconnectId(id: string): Promise<void> {
    const res = await commands.disconnectTunnel(id);
    if (res.status === "ok") this.setTunnel(id, { state: "disconnected" });
    else this.setTunnel(id, { state: "failed", reason: res.error.message });
  }

  /** Starts a local forward to `to` (host:port) through `bastion`; returns the form's error. */
  async startForward(
    bastion: string,
    to: string,
    trustOnce: string | null = null,
  ): Promise<IpcError | null> {
    const res = await commands.startForward(bastion, to, trustOnce);
    if (res.status === "ok") return null;
    this.askHostKey(res.error, async (trust) => {
      const again = await this.startForward(bastion, to, trust);
      if (again) this.loadError = again;
    });
    return res.error;
  }

  async disconnect(env: EnvironmentRef): Promise<void> {
    const id = tunnelId(env);
    const res = await commands.disconnectEnvironment(envRef(env));
    if (res.status === "ok") this.setTunnel(id, { state: "disconnected" });
    else this.setTunnel(id, { state: "failed", reason: res.error.message });
  }

  private setTunnel(id: string, state: TunnelState): void {
    if (state.state === "disconnected") {
      const { [id]: _gone, ...rest } = this.tunnels;
      this.tunnels = rest;
    } else {
      this.tunnels = { ...this.tunnels, [id]: state };
    }
  }
}

export const store = new Store();
