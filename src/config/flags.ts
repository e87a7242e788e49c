/**
 * A small, strict command-line parser: every flag has an environment-variable equivalent, and
 * anything unknown or malformed fails at start with an exact message (as pino validates options
 * up front). Precedence: flag, then environment, then default.
 */

export type FlagKind = 'string' | 'int' | 'decimal' | 'enum' | 'list' | 'negated-bool' | 'bool';

export interface FlagSpec {
  /** Long name without dashes, e.g. `listen`; for `negated-bool`, the positive name (`ede` → `--no-ede`). */
  name: string;
  kind: FlagKind;
  env?: string;
  help: string;
  /** Shown in help and used when neither flag nor env is given. */
  default?: string | number | boolean | string[];
  /** For `enum`. */
  choices?: readonly string[];
  /** For `int` and `decimal`. */
  min?: number;
  max?: number;
  /** Placeholder in help, e.g. `HOST:PORT`. */
  metavar?: string;
  /** One-letter alias, e.g. `o` for `-o json` (kubectl's habit). */
  short?: string;
}

export type FlagValues = Record<string, string | number | boolean | string[] | undefined>;

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface ParsedArgs {
  values: FlagValues;
  positionals: string[];
  help: boolean;
}

function flagLabel(spec: FlagSpec): string {
  return spec.kind === 'negated-bool' ? `--no-${spec.name}` : `--${spec.name}`;
}

function convert(spec: FlagSpec, raw: string, source: string): string | number | boolean | string[] {
  switch (spec.kind) {
    case 'string':
      if (raw === '') throw new UsageError(`${source} must not be empty`);
      return raw;
    case 'int': {
      if (!/^-?\d+$/.test(raw.trim())) {
        throw new UsageError(`${source} must be a whole number, got ${JSON.stringify(raw)}`);
      }
      const n = Number(raw);
      const min = spec.min ?? Number.MIN_SAFE_INTEGER;
      const max = spec.max ?? Number.MAX_SAFE_INTEGER;
      if (n < min || n > max) throw new UsageError(`${source} must be from ${min} to ${max}, got ${n}`);
      return n;
    }
    case 'decimal': {
      // Seconds with fractions (`0.5`); no exponents, no signs other than none.
      if (!/^\d+(\.\d+)?$/.test(raw.trim())) throw new UsageError(`${source} must be a number like 5 or 0.5, got ${JSON.stringify(raw)}`);
      const n = Number(raw);
      const min = spec.min ?? 0;
      const max = spec.max ?? Number.MAX_SAFE_INTEGER;
      if (n < min || n > max) throw new UsageError(`${source} must be from ${min} to ${max}, got ${n}`);
      return n;
    }
    case 'enum':
      if (!spec.choices?.includes(raw)) {
        throw new UsageError(`${source} must be one of ${spec.choices?.join(', ')}; got ${JSON.stringify(raw)}`);
      }
      return raw;
    case 'list':
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
    case 'bool':
    case 'negated-bool': {
      const v = raw.trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(v)) return true;
      if (['0', 'false', 'no', 'off'].includes(v)) return false;
      throw new UsageError(`${source} must be true or false, got ${JSON.stringify(raw)}`);
    }
  }
}

/**
 * Parses `argv` (without the command name) against `specs`. The environment is passed in as a
 * plain record, so this module stays pure and testable.
 */
export function parseArgs(
  command: string,
  argv: readonly string[],
  specs: readonly FlagSpec[],
  env: Readonly<Record<string, string | undefined>>,
  maxPositionals = 0,
): ParsedArgs {
  const byLong = new Map<string, FlagSpec>();
  for (const s of specs) byLong.set(flagLabel(s).slice(2), s);
  const byShort = new Map<string, FlagSpec>();
  for (const s of specs) if (s.short !== undefined) byShort.set(s.short, s);
  const fromFlags: FlagValues = {};
  const positionals: string[] = [];
  let help = false;

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg === '-h' || arg === '--help') {
      help = true;
      continue;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    const short = /^-([A-Za-z])(=.*)?$/.exec(arg);
    if (!arg.startsWith('--') && (short === null || !byShort.has(short[1]!))) throw new UsageError(`unknown flag ${arg} for "${command}" (flags are long: --name)`);
    const eq = arg.indexOf('=');
    const name = short !== null ? flagLabel(byShort.get(short[1]!)!).slice(2) : eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    const spec = byLong.get(name);
    if (!spec) throw new UsageError(`unknown flag --${name} for "${command}" (see: clusterset-dns ${command} --help)`);
    const label = `--${name}`;
    if (spec.kind === 'negated-bool' || spec.kind === 'bool') {
      if (eq >= 0) throw new UsageError(`${label} takes no value`);
      fromFlags[spec.name] = spec.kind === 'bool';
      continue;
    }
    let raw: string;
    if (eq >= 0) {
      raw = arg.slice(eq + 1);
    } else {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('--') && next.length > 2)) throw new UsageError(`${label} needs a value`);
      raw = next;
      i++;
    }
    const value = convert(spec, raw, label);
    if (spec.kind === 'list') {
      const prev = (fromFlags[spec.name] as string[] | undefined) ?? [];
      fromFlags[spec.name] = [...prev, ...(value as string[])];
    } else {
      if (fromFlags[spec.name] !== undefined) throw new UsageError(`${label} given more than once`);
      fromFlags[spec.name] = value;
    }
  }

  if (!help && positionals.length > maxPositionals) {
    throw new UsageError(
      maxPositionals === 0
        ? `"${command}" takes no arguments, got ${JSON.stringify(positionals[0])}`
        : `"${command}" takes at most ${maxPositionals} argument(s), got ${positionals.length}`,
    );
  }

  const values: FlagValues = {};
  for (const spec of specs) {
    if (fromFlags[spec.name] !== undefined) {
      values[spec.name] = fromFlags[spec.name];
      continue;
    }
    const envRaw = spec.env ? env[spec.env] : undefined;
    if (envRaw !== undefined && envRaw !== '') {
      values[spec.name] = convert(spec, envRaw, `environment variable ${spec.env}`);
      continue;
    }
    values[spec.name] = spec.default;
  }
  return { values, positionals, help };
}

/** Renders a CoreDNS-README-like flag table for `--help`. */
export function formatFlags(specs: readonly FlagSpec[]): string {
  const rows = specs.map((s) => {
    const label = s.short === undefined ? flagLabel(s) : `-${s.short}, ${flagLabel(s)}`;
    const head = s.kind === 'negated-bool' || s.kind === 'bool' ? label : `${label} ${s.metavar ?? 'VALUE'}`;
    const def =
      s.default === undefined || (Array.isArray(s.default) && s.default.length === 0)
        ? ''
        : ` (default ${Array.isArray(s.default) ? s.default.join(',') : String(s.default)})`;
    const env = s.env ? ` [env ${s.env}]` : '';
    return { head, text: `${s.help}${def}${env}` };
  });
  const width = Math.max(...rows.map((r) => r.head.length)) + 2;
  return rows.map((r) => `  ${r.head.padEnd(width)}${r.text}`).join('\n');
}
