import type { Page } from 'playwright-core';

/** One control or figure that the check found out of reach, and why. */
export interface LayoutProblem {
  what: string;
  why: string;
}

/**
 * Every button, input, select, textarea, toggle, tab, slider and figure ([data-figure], table
 * cells) on the page: scrolled into view within its scrollable ancestors, it must lie inside the
 * viewport and every clipping ancestor, not be covered (elementFromPoint at its centre is itself
 * or inside it), and show its text whole (no ellipsis, no select or placeholder text cut).
 * Only elements inside `root` are checked (a modal: what lies behind it is covered by design).
 */
export function layoutProblems(page: Page, root = 'body'): Promise<LayoutProblem[]> {
  return page.evaluate((root) => {
    const problems: { what: string; why: string }[] = [];
    const sel = 'button, input, select, textarea, label.toggle, [role=tab], [role=slider], [data-figure], table th, table td';
    const name = (el: Element): string => {
      const id = el.getAttribute('data-testid') ?? el.getAttribute('aria-label') ?? (el as HTMLInputElement).placeholder ?? '';
      return `${el.tagName.toLowerCase()}${id ? `[${id}]` : ''} "${(el.textContent ?? '').trim().slice(0, 40)}"`;
    };
    const canvas = document.createElement('canvas').getContext('2d')!;
    const textWidth = (el: Element, text: string): number => {
      const cs = getComputedStyle(el);
      canvas.font = `${cs.fontStyle} ${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
      return canvas.measureText(text).width;
    };
    for (const el of Array.from(document.querySelector(root)!.querySelectorAll<HTMLElement>(sel))) {
      // hidden by design: a toggle's input (the label stands for it), a file input behind its button, a closed <details>
      if (!el.checkVisibility({ opacityProperty: true, visibilityProperty: true, contentVisibilityAuto: true })) continue;
      const r0 = el.getBoundingClientRect();
      if (r0.width === 0 || r0.height === 0) continue;
      el.scrollIntoView({ block: 'nearest', inline: 'nearest' });
      const r = el.getBoundingClientRect();
      const what = name(el);
      const cs = getComputedStyle(el);
      const inside = (c: { left: number; top: number; right: number; bottom: number }): boolean =>
        r.left >= c.left - 1 && r.top >= c.top - 1 && r.right <= c.right + 1 && r.bottom <= c.bottom + 1;
      if (!inside({ left: 0, top: 0, right: innerWidth, bottom: innerHeight })) {
        problems.push({ what, why: `outside the viewport ${innerWidth}x${innerHeight}: ${Math.round(r.left)},${Math.round(r.top)} … ${Math.round(r.right)},${Math.round(r.bottom)}` });
        continue;
      }
      let clipped: string | undefined;
      for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
        const pc = getComputedStyle(p);
        if (pc.overflowX !== 'visible' || pc.overflowY !== 'visible') {
          if (!inside(p.getBoundingClientRect())) clipped = `clipped by ${p.tagName.toLowerCase()}.${p.className}`;
        }
      }
      if (clipped) {
        problems.push({ what, why: clipped });
        continue;
      }
      const hit = document.elementFromPoint((r.left + r.right) / 2, (r.top + r.bottom) / 2);
      if (!hit || !(el === hit || el.contains(hit) || (el instanceof HTMLInputElement && el.labels && Array.from(el.labels).some((l) => l.contains(hit))))) {
        problems.push({ what, why: `covered by ${hit ? name(hit) : 'nothing'}` });
        continue;
      }
      const pad = parseFloat(cs.paddingLeft) + parseFloat(cs.paddingRight) + parseFloat(cs.borderLeftWidth) + parseFloat(cs.borderRightWidth);
      if ((el.matches('button, [role=tab], label.toggle, th, td, [data-figure]')) && el.scrollWidth > el.clientWidth + 1) {
        problems.push({ what, why: `text cut: ${el.scrollWidth}px of text in ${el.clientWidth}px` });
      } else if (el instanceof HTMLSelectElement && el.selectedOptions[0]) {
        const need = textWidth(el, el.selectedOptions[0].text) + pad + 18; // the arrow
        if (need > r.width + 1) problems.push({ what, why: `selected option "${el.selectedOptions[0].text}" cut: needs ${Math.round(need)}px, has ${Math.round(r.width)}` });
      } else if (el instanceof HTMLInputElement && !el.value && el.placeholder) {
        const need = textWidth(el, el.placeholder) + pad;
        if (need > r.width + 1) problems.push({ what, why: `placeholder cut: needs ${Math.round(need)}px, has ${Math.round(r.width)}` });
      }
    }
    return problems;
  }, root);
}
