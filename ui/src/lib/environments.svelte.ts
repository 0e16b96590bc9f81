// The environments list as the user narrows it: search and filters (kept for the session, across
// screens), groups by account and region, and which environment's details are shown.

import { type Environment, tunnelId } from "../ipc";

export type AccessFilter = "all" | "public" | "private";
export type StatusFilter = "all" | "available" | "unavailable";

export type EnvFilter = { search: string; access: AccessFilter; status: StatusFilter };

/** What the user typed and picked; module state, so it survives a visit to another screen. */
export const envFilter: EnvFilter = $state({ search: "", access: "all", status: "all" });

/** Whether any filter narrows the list. */
export function filtering(f: EnvFilter): boolean {
  return f.search.trim() !== "" || f.access !== "all" || f.status !== "all";
}

export function clearFilters(): void {
  envFilter.search = "";
  envFilter.access = "all";
  envFilter.status = "all";
}

/** The AWS account of an environment: the 5th field of its ARN. */
export function accountOf(env: Environment): string | null {
  const account = env.arn?.split(":")[4];
  return account ? account : null;
}

/** Every profile that sees `env`: the one it is listed under first. */
export function profilesOf(env: Environment): string[] {
  return [env.profile, ...(env.alsoSeenBy ?? [])];
}

/**
 * Whether `env` passes `f`: every word of the search is found (any case) in its name, account,
 * region, profiles or a tag's key or value; access and status as picked.
 */
export function matches(env: Environment, f: EnvFilter): boolean {
  if (f.access === "public" && env.access !== "Public") return false;
  if (f.access === "private" && env.access !== "PrivateVpce") return false;
  if (f.status === "available" && env.status !== "AVAILABLE") return false;
  if (f.status === "unavailable" && env.status === "AVAILABLE") return false;
  const words = f.search.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return true;
  const haystack = [
    env.name,
    accountOf(env) ?? "",
    env.region,
    ...profilesOf(env),
    ...Object.entries(env.tags ?? {}).flat(),
  ].map((s) => s.toLowerCase());
  return words.every((w) => haystack.some((s) => s.includes(w)));
}

export type RegionGroup = { region: string; environments: Environment[] };

export type AccountGroup = {
  /** `null`: an environment without an ARN (its account is unknown). */
  account: string | null;
  /** Every profile that reaches the account, in the whole list (not only the shown rows). */
  profiles: string[];
  regions: RegionGroup[];
  count: number;
};

/**
 * `shown` by account, then region, then name; accounts in the order of their first profile.
 * `all` gives each account its profiles.
 */
export function groupByAccount(shown: Environment[], all: Environment[]): AccountGroup[] {
  const profiles = new Map<string | null, Set<string>>();
  for (const env of all) {
    const key = accountOf(env) ?? null;
    const set = profiles.get(key) ?? new Set<string>();
    for (const p of profilesOf(env)) set.add(p);
    profiles.set(key, set);
  }
  const byAccount = new Map<string | null, Map<string, Environment[]>>();
  for (const env of shown) {
    const key = accountOf(env);
    const regions = byAccount.get(key) ?? new Map<string, Environment[]>();
    regions.set(env.region, [...(regions.get(env.region) ?? []), env]);
    byAccount.set(key, regions);
  }
  const groups: AccountGroup[] = [...byAccount].map(([account, regions]) => ({
    account,
    profiles: [...(profiles.get(account) ?? [])].sort(),
    regions: [...regions]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([region, environments]) => ({
        region,
        environments: environments.sort((a, b) => a.name.localeCompare(b.name)),
      })),
    count: [...regions.values()].reduce((n, envs) => n + envs.length, 0),
  }));
  return groups.sort(
    (a, b) =>
      (a.profiles[0] ?? "").localeCompare(b.profiles[0] ?? "") ||
      (a.account ?? "").localeCompare(b.account ?? ""),
  );
}

/** The environment whose details drawer is open (its tunnel id), if any. */
export const details: { id: string | null } = $state({ id: null });

export function showDetails(env: Environment): void {
  details.id = tunnelId(env);
}
