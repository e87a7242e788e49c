/**
 * The shape and running of doctor's checks, shared by `doctor` and `doctor service`: each check
 * names the checks it needs and is SKIP when one of them did not pass (one cause, one FAIL); the
 * results print as PASS/FAIL/SKIP lines with a fix, or as JSON.
 */
import type { Io } from './io.ts';

export type CheckStatus = 'PASS' | 'FAIL' | 'SKIP';

export interface CheckResult {
  title: string;
  status: CheckStatus;
  detail: string;
  fix?: string;
}

export const pass = (title: string, detail: string): CheckResult => ({ title, status: 'PASS', detail });
export const skip = (title: string, detail: string): CheckResult => ({ title, status: 'SKIP', detail });
export const fail = (title: string, detail: string, fix: string): CheckResult => ({ title, status: 'FAIL', detail, fix });

export const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export function print(io: Io, result: CheckResult): void {
  io.stdout.write(`${result.status.padEnd(4)}  ${result.title}: ${result.detail}\n`);
  if (result.fix !== undefined) io.stdout.write(`      fix: ${result.fix}\n`);
}

/** A check and what it needs: it is SKIP (naming the failed dependency) unless each of those passed. */
export interface PlannedCheck {
  title: string;
  needs: string[];
  run: () => Promise<CheckResult>;
}

/**
 * Runs checks in order; one whose dependency did not pass is SKIP, so one cause gives one FAIL
 * (an unreachable API server is not also five failed reads).
 */
export async function runChecks(checks: readonly PlannedCheck[], onResult: (r: CheckResult) => void): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const status = new Map<string, CheckStatus>();
  for (const check of checks) {
    const blocked = check.needs.find((n) => status.get(n) !== 'PASS');
    let result: CheckResult;
    if (blocked !== undefined) {
      result = skip(check.title, `needs "${blocked}", which did not pass`);
    } else {
      try {
        result = await check.run();
      } catch (err) {
        result = fail(check.title, messageOf(err), 'please report this: an unexpected error');
      }
      result = { ...result, title: check.title };
    }
    status.set(check.title, result.status);
    results.push(result);
    onResult(result);
  }
  return results;
}

export function printSummary(io: Io, results: readonly CheckResult[], config: { output: 'text' | 'json' }, header: Record<string, unknown>, breaksAt?: boolean): number {
  const failed = results.filter((r) => r.status === 'FAIL');
  if (config.output === 'json') {
    io.stdout.write(`${JSON.stringify({ ...header, checks: results, failed: failed.length, ...(breaksAt === true ? { breaksAt: failed[0]?.title ?? null } : {}) }, null, 2)}\n`);
  } else if (breaksAt === true) {
    io.stdout.write(failed.length === 0 ? 'The chain is complete.\n' : `The chain breaks at: ${failed[0]!.title}.\n`);
  } else {
    io.stdout.write(failed.length === 0 ? 'All checks passed.\n' : `${failed.length} check(s) failed.\n`);
  }
  return failed.length === 0 ? 0 : 1;
}
