/**
 * A wait for the database server with a time limit: a half-open link or a
 * stalled proxy never answers, and a driver must not wait for it for ever.
 */

/**
 * `p`, or a rejection naming `what` once `ms` pass first; then `giveUp` runs
 * (the driver destroys its connection: the answer will never come). 0: no limit.
 */
export function withDeadline<T>(p: Promise<T>, ms: number, what: string, giveUp: () => void): Promise<T> {
  if (!ms) return p;
  let timer: NodeJS.Timeout;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      giveUp();
      reject(new Error(`no answer from the server in ${ms / 1000} s while ${what}`));
    }, ms);
  });
  p.catch(() => undefined);
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
