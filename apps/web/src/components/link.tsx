import type { AnchorHTMLAttributes, MouseEvent } from 'react';
import { navigate } from '../use-route.ts';

/** Whether a click asks the browser for something of its own (a new tab or window, a download). */
function browserClick(event: MouseEvent): boolean {
  return event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey;
}

/** A link to a portal URL: a real `<a href>` (open in a new tab, copy, share), followed in place on a plain click. */
export function Link({ href, onClick, ...rest }: AnchorHTMLAttributes<HTMLAnchorElement> & { href: string }) {
  return (
    <a
      {...rest}
      href={href}
      onClick={(event) => {
        event.stopPropagation();
        onClick?.(event);
        if (event.defaultPrevented || browserClick(event)) return;
        event.preventDefault();
        navigate(href);
      }}
    />
  );
}

/** A table row that opens `href` when clicked anywhere but on its own links, buttons and fields. */
export function rowLink(href: string) {
  return {
    className: 'row-link',
    onClick: (event: MouseEvent<HTMLElement>) => {
      const target = event.target as HTMLElement;
      if (target.closest('a, button, input, select, textarea, label')) return;
      if (window.getSelection()?.toString()) return; // selecting text, not opening
      if (browserClick(event)) window.open(href, '_blank', 'noopener');
      else navigate(href);
    },
  };
}
