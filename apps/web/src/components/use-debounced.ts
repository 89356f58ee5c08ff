import { useEffect, useMemo, useState } from 'react';

/**
 * The value once it has stopped changing for `ms` milliseconds (compared by its JSON text), and whether a
 * newer value is still waiting.
 */
export function useDebounced<T>(value: T, ms: number): [T, boolean] {
  const text = JSON.stringify(value);
  const [settled, setSettled] = useState(text);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(text), ms);
    return () => clearTimeout(timer);
  }, [text, ms]);
  const parsed = useMemo(() => JSON.parse(settled) as T, [settled]);
  return [parsed, settled !== text];
}
