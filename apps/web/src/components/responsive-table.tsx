import { type ReactNode, useLayoutEffect, useRef } from 'react';

/** Gives every cell the heading of its column (`data-label`), which the stacked phone layout shows. */
function labelCells(table: HTMLTableElement): void {
  const headings = [...table.querySelectorAll(':scope > thead > tr > th')].map(
    (th) => th.textContent?.trim() ?? '',
  );
  for (const row of table.querySelectorAll(':scope > tbody > tr')) {
    [...row.children].forEach((cell, index) => {
      const label = headings[index] ?? '';
      if (cell.getAttribute('data-label') !== label) cell.setAttribute('data-label', label);
    });
  }
}

/**
 * A table that fits its page: it scrolls sideways inside its own box when it is wider than the window,
 * and under 640 px each row stacks into a card of "heading: value" lines (styles.css).
 */
export function ResponsiveTable({ children, className }: { children: ReactNode; className?: string }) {
  const wrap = useRef<HTMLDivElement>(null);
  useLayoutEffect(() => {
    const element = wrap.current;
    if (!element) return;
    const label = () => {
      for (const table of element.querySelectorAll('table')) labelCells(table);
    };
    label();
    // Rows come and go as queries refresh; label new ones as they appear (attribute changes do not re-trigger).
    const observer = new MutationObserver(label);
    observer.observe(element, { childList: true, subtree: true, characterData: true });
    return () => observer.disconnect();
  }, []);
  return (
    <div ref={wrap} className={className ? `table-wrap ${className}` : 'table-wrap'}>
      {children}
    </div>
  );
}
