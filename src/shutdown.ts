/**
 * SIGTERM under one deadline (global `shutdowntimeout`). The sources stop
 * first, handing on what the kernel already sent; then every output flushes
 * at the same time and is closed as soon as its flush ends or the deadline
 * passes. A close() after the deadline spools (SQL) or counts as dropped
 * (EXEC, sockets) what is still pending, logged in one line per output. An
 * output whose close() does not return within a short grace is left behind:
 * its records not confirmed written are counted as dropped.
 */
import type { Logger } from 'pino';
import type { AssembledGroup } from './core/assemble.js';
import type { Source } from './core/source.js';

const CLOSE_GRACE_MS = 2000;
const LATE = Symbol('late');

/** Resolves with the promise's outcome, or LATE after `ms`. */
async function within<T>(p: Promise<T>, ms: number): Promise<T | typeof LATE> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<typeof LATE>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, ms), LATE);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

export async function stopGroups(running: ReadonlyArray<{ group: AssembledGroup; source?: Source }>, timeoutMs: number, log: Logger): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const left = () => deadline - Date.now();
  const seconds = `${timeoutMs / 1000} s`;

  await Promise.all(running.map(({ source }) => source?.stop(left()).catch((err) => log.error({ err }, `${source.name}: closing failed`))));

  await Promise.all(
    running.flatMap(({ group }) =>
      group.outputs.map(async (st) => {
        const name = `group ${group.id}: ${st.name}`;
        let late = false;
        try {
          late = (await within(st.instance.flush(), left())) === LATE;
        } catch (err) {
          log.error({ err }, `${name} could not flush`);
        }
        const dropped = st.counters.dropped;
        try {
          if ((await within(st.instance.close(), CLOSE_GRACE_MS)) === LATE) {
            const c = st.counters;
            const lost = Math.max(0, c.received - c.sent - c.dropped);
            c.dropped += lost;
            log.error(
              `${name} did not close within ${CLOSE_GRACE_MS / 1000} s after the flush${late ? ` deadline of ${seconds}` : ''}: exiting without it, ${lost} records not confirmed written counted as dropped`,
            );
            return;
          }
        } catch (err) {
          log.error({ err }, `${name} could not close`);
        }
        if (late) log.warn(`${name} not flushed within ${seconds}: ${st.counters.dropped - dropped} records dropped at close, the rest written or spooled`);
      }),
    ),
  );

  for (const { group } of running) {
    for (const st of group.inputs) await st.instance.close?.().catch((err: unknown) => log.error({ err }, `group ${group.id}: ${st.name} could not close`));
  }
}
