// Keyboard for lists of rows (`[data-row]`: table rows or list items): arrows and Home/End move between rows, Enter runs
// the row's primary action (`[data-primary]`), the Menu key or Shift+F10 opens its menu.

function rowsOf(root: HTMLElement): HTMLElement[] {
  return Array.from(root.querySelectorAll<HTMLElement>("[data-row]"));
}

/** Opens the row's context menu where the keyboard is: under the row's name. */
export function openRowMenu(row: HTMLElement): void {
  const box = row.getBoundingClientRect();
  row.dispatchEvent(
    new MouseEvent("contextmenu", {
      bubbles: true,
      cancelable: true,
      clientX: box.left + 24,
      clientY: box.bottom,
    }),
  );
}

export function onRowKeydown(event: KeyboardEvent): void {
  const target = event.target;
  const root = event.currentTarget;
  if (!(target instanceof HTMLElement) || !(root instanceof HTMLElement)) return;
  // A select or a text field keeps its own keys.
  if (target.closest("select, input, textarea")) return;
  const row = target.closest<HTMLElement>("[data-row]");
  if (!row) return;
  const onRow = target === row;
  if (event.key === "ContextMenu" || (event.shiftKey && event.key === "F10")) {
    event.preventDefault();
    openRowMenu(row);
    return;
  }
  if (event.altKey || event.ctrlKey || event.metaKey) return;
  if (event.key === "Enter" && onRow) {
    event.preventDefault();
    row.querySelector<HTMLButtonElement>("[data-primary]:not(:disabled)")?.click();
    return;
  }
  const rows = rowsOf(root);
  const at = rows.indexOf(row);
  const next =
    event.key === "ArrowDown"
      ? rows[at + 1]
      : event.key === "ArrowUp"
        ? rows[at - 1]
        : event.key === "Home" && onRow
          ? rows[0]
          : event.key === "End" && onRow
            ? rows.at(-1)
            : undefined;
  if (next || event.key === "ArrowDown" || event.key === "ArrowUp") event.preventDefault();
  next?.focus();
}

/** The row id of the row `event` happened in, for the one row in the Tab order. */
export function rowIdOf(event: Event): string | null {
  const target = event.target;
  if (!(target instanceof HTMLElement)) return null;
  return target.closest<HTMLElement>("[data-row]")?.dataset.scopeId ?? null;
}

/** The keys above on a list of rows, and `onrow(id)` whenever focus enters one of them. */
export function rowNavigation(node: HTMLElement, onrow: (id: string) => void) {
  let current = onrow;
  const focusin = (event: FocusEvent) => {
    const id = rowIdOf(event);
    if (id) current(id);
  };
  node.addEventListener("keydown", onRowKeydown);
  node.addEventListener("focusin", focusin);
  return {
    update(next: (id: string) => void) {
      current = next;
    },
    destroy() {
      node.removeEventListener("keydown", onRowKeydown);
      node.removeEventListener("focusin", focusin);
    },
  };
}
