// What makes the window behave like a desktop app rather than a web page: no browser context
// menu, no reload keys, the app's shortcuts, Esc for forms, forms validated in the app's own
// words, and focus that stays where the user was when the control they pressed goes away.

import { type ShortcutName, shortcutOf } from "./shortcuts";

export type ShortcutActions = Record<ShortcutName, () => void>;

const TEXT_INPUTS = new Set(["text", "search", "url", "email", "password", "number", "tel", ""]);

/** Whether `target` is somewhere a user types or selects text (the engine's menu stays there). */
function isTextEntry(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable || target instanceof HTMLTextAreaElement) return true;
  return target instanceof HTMLInputElement && TEXT_INPUTS.has(target.type);
}

/** A modal dialog or a menu is open: it owns Esc and the keyboard. */
function layerOpen(): boolean {
  return (
    document.querySelector("dialog[open], [role='dialog'][data-state='open'], [role='menu']") !==
    null
  );
}

function onContextMenu(event: MouseEvent): void {
  // A row's own menu has already handled (and prevented) it; anything else gets no menu, except
  // where text is typed.
  if (!isTextEntry(event.target)) event.preventDefault();
}

function onKeyDown(event: KeyboardEvent, actions: ShortcutActions): void {
  const key = event.key;
  // The page must never reload: F5, Ctrl+R, Ctrl+Shift+R (Cmd on macOS).
  if (key === "F5" || key === "BrowserRefresh") {
    event.preventDefault();
    return;
  }
  // History navigation means nothing here.
  if (event.altKey && (key === "ArrowLeft" || key === "ArrowRight")) {
    event.preventDefault();
    return;
  }
  if (key === "BrowserBack" || key === "BrowserForward") {
    event.preventDefault();
    return;
  }
  const shortcut = shortcutOf(event);
  if (shortcut) {
    event.preventDefault();
    if (event.repeat) return;
    actions[shortcut]();
    return;
  }
  if ((event.ctrlKey || event.metaKey) && ["p", "u", "s", "o", "g"].includes(key.toLowerCase())) {
    // Print, view source, save page, open, find next: browser things.
    event.preventDefault();
    return;
  }
  if (key === "Escape" && !event.defaultPrevented && !layerOpen()) closeForm();
}

/** Esc: the form the focus is in closes (its `data-cancel` button), else the one open form. */
function closeForm(): void {
  const focused = document.activeElement;
  const form =
    focused?.closest("form:has([data-cancel])") ??
    document.querySelector("main form:has([data-cancel])");
  const cancel = form?.querySelector<HTMLButtonElement>("[data-cancel]");
  if (!cancel) return;
  const opener = document.querySelector<HTMLElement>("main [aria-expanded='true']");
  cancel.click();
  queueMicrotask(() => {
    if (!document.activeElement || document.activeElement === document.body) opener?.focus();
  });
}

// Forms: `novalidate`, checked here before their own submit handler runs, with messages beside
// the fields in the app's words.

function labelOf(el: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement): string {
  if (el.dataset.label) return el.dataset.label;
  const label = el.labels?.[0];
  const own = label
    ? Array.from(label.childNodes)
        .filter((n) => n.nodeType === Node.TEXT_NODE)
        .map((n) => n.textContent ?? "")
        .join(" ")
        .trim()
    : "";
  return own || el.getAttribute("aria-label") || el.name || "This field";
}

function messageOf(el: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement): string {
  const v = el.validity;
  const label = labelOf(el);
  if (v.valueMissing) {
    return el instanceof HTMLSelectElement
      ? `Choose ${label.toLowerCase()}.`
      : `${label} is needed.`;
  }
  if (el instanceof HTMLInputElement && el.type === "number") {
    if (v.badInput || v.stepMismatch) return `${label}: a whole number.`;
    if (v.rangeUnderflow || v.rangeOverflow) {
      return `${label}: a number from ${el.min} to ${el.max}.`;
    }
  }
  if (v.typeMismatch && el instanceof HTMLInputElement) {
    return el.type === "url" ? `${label}: a URL such as https://host/.` : `${label}: not valid.`;
  }
  if (v.patternMismatch) return el.title || `${label}: not in the expected form.`;
  if (v.tooShort && "minLength" in el) return `${label}: at least ${el.minLength} characters.`;
  if (v.tooLong && "maxLength" in el) return `${label}: at most ${el.maxLength} characters.`;
  return `${label}: not valid.`;
}

type Field = HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;

function isField(el: Element | EventTarget | null): el is Field {
  return (
    el instanceof HTMLInputElement ||
    el instanceof HTMLSelectElement ||
    el instanceof HTMLTextAreaElement
  );
}

let errorIds = 0;

function clearError(el: Field): void {
  const id = el.dataset.errorId;
  if (!id) return;
  document.getElementById(id)?.remove();
  el.removeAttribute("aria-invalid");
  const rest = (el.getAttribute("aria-describedby") ?? "")
    .split(" ")
    .filter((x) => x && x !== id)
    .join(" ");
  if (rest) el.setAttribute("aria-describedby", rest);
  else el.removeAttribute("aria-describedby");
  delete el.dataset.errorId;
}

function showError(el: Field): void {
  clearError(el);
  errorIds += 1;
  const id = `field-error-${errorIds}`;
  const note = document.createElement("span");
  note.className = "field-error";
  note.id = id;
  note.dataset.testid = "field-error";
  note.textContent = messageOf(el);
  el.after(note);
  el.dataset.errorId = id;
  el.setAttribute("aria-invalid", "true");
  const described = el.getAttribute("aria-describedby");
  el.setAttribute("aria-describedby", described ? `${described} ${id}` : id);
}

/** Marks every invalid field of `form`; focuses the first. `true` when all are valid. */
export function validate(form: HTMLFormElement): boolean {
  let first: Field | null = null;
  for (const el of Array.from(form.elements)) {
    if (!isField(el) || el.disabled) continue;
    if (el.validity.valid) clearError(el);
    else {
      showError(el);
      first ??= el;
    }
  }
  first?.focus();
  return first === null;
}

function onSubmit(event: SubmitEvent): void {
  const form = event.target;
  if (form instanceof HTMLFormElement && !validate(form)) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}

function onFieldChanged(event: Event): void {
  const el = event.target;
  if (isField(el) && el.dataset.errorId && el.validity.valid) clearError(el);
}

// Focus: when the focused control goes away (Connect becomes Disconnect, a Dismiss removes its
// row), focus goes to the control that replaced it in the same row (`data-focus-next` names its
// data-testid), else to the row itself (`data-scope-id`; detail rows name theirs in
// `data-scope-parent`), never to the page.

let lastFocused: HTMLElement | null = null;
let lastScope: { id: string | null; parent: string | null; next: string | null } | null = null;

function onFocusIn(event: FocusEvent): void {
  const el = event.target;
  if (!(el instanceof HTMLElement)) return;
  lastFocused = el;
  const scope = el.closest<HTMLElement>("[data-scope-id], [data-scope-parent]");
  lastScope = scope
    ? {
        id: scope.dataset.scopeId ?? null,
        parent: scope.dataset.scopeParent ?? null,
        next: el.closest<HTMLElement>("[data-focus-next]")?.dataset.focusNext ?? null,
      }
    : null;
}

function scopeById(id: string | null): HTMLElement | null {
  if (!id) return null;
  return document.querySelector<HTMLElement>(`[data-scope-id="${CSS.escape(id)}"]`);
}

function usable(el: HTMLElement | null | undefined): el is HTMLElement {
  return !!el && !(el as HTMLButtonElement).disabled && el.getClientRects().length > 0;
}

/** A panel form opened from its toggle (Add bastion, Import…): focus goes to its first field. */
function focusOpenedForm(mutations: MutationRecord[]): void {
  const opener = document.activeElement;
  if (!(opener instanceof HTMLElement) || opener.getAttribute("aria-expanded") !== "true") return;
  for (const m of mutations) {
    for (const node of Array.from(m.addedNodes)) {
      if (!(node instanceof HTMLElement)) continue;
      const form = node.matches("form.bastion-form")
        ? node
        : node.querySelector("form.bastion-form");
      const field = form?.querySelector<HTMLElement>("input, select, textarea");
      if (field) {
        field.focus();
        return;
      }
    }
  }
}

function rescueFocus(): void {
  if (!lastFocused || lastFocused.isConnected) return;
  const active = document.activeElement;
  if (active && active !== document.body) return;
  const scope = lastScope ? (scopeById(lastScope.id) ?? scopeById(lastScope.parent)) : null;
  if (!scope || !lastScope) {
    // The whole row went (a tunnel stopped, a record removed): the screen's heading, so the
    // next Tab starts from the top of the screen rather than the page.
    const heading = document.querySelector<HTMLElement>("main h1");
    if (heading) {
      heading.tabIndex = -1;
      heading.focus({ preventScroll: true });
    }
    return;
  }
  const next = lastScope.next
    ? scope.querySelector<HTMLElement>(`[data-testid="${CSS.escape(lastScope.next)}"]`)
    : null;
  const target = usable(next) ? next : scope;
  target.focus();
}

/** Installs all of it on the window; call once. */
export function installDesktopBehaviour(actions: ShortcutActions): void {
  window.addEventListener("contextmenu", onContextMenu);
  window.addEventListener("keydown", (e) => onKeyDown(e, actions), { capture: false });
  // Reload keys are taken before anything else sees them.
  window.addEventListener(
    "keydown",
    (e) => {
      const reload = (e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "r";
      if (reload || e.key === "F5") e.preventDefault();
    },
    { capture: true },
  );
  window.addEventListener("dragstart", (e) => {
    if (!isTextEntry(e.target)) e.preventDefault();
  });
  document.addEventListener("submit", onSubmit, { capture: true });
  // A form without novalidate: no engine bubble either.
  document.addEventListener(
    "invalid",
    (e) => {
      e.preventDefault();
      if (isField(e.target)) showError(e.target);
    },
    { capture: true },
  );
  document.addEventListener("input", onFieldChanged, { capture: true });
  document.addEventListener("change", onFieldChanged, { capture: true });
  document.addEventListener("focusin", onFocusIn);
  new MutationObserver((mutations) => {
    focusOpenedForm(mutations);
    rescueFocus();
  }).observe(document.body, { childList: true, subtree: true });
}
