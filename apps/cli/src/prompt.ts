import { createInterface } from 'node:readline';

/** Asks a yes/no question on the terminal; anything but y/yes (or end of input) is no. */
export async function confirm(question: string): Promise<boolean> {
  const readline = createInterface({
    input: process.stdin,
    output: process.stderr,
    terminal: process.stdin.isTTY,
  });
  try {
    const answer = await new Promise<string | null>((resolve) => {
      readline.question(question, resolve);
      readline.once('close', () => resolve(null));
    });
    return answer !== null && /^y(es)?$/i.test(answer.trim());
  } finally {
    readline.close();
  }
}
